"""Chart archives: helm's layout, reproducible bytes, every refusal, and Helm itself as the judge.

The fixture chart (tests/fixtures/charts/app) has templates, a schema, a .helmignore with directory,
anchored and glob rules, files those rules drop, a default-ignored dotfile in templates/, and an
unpacked subchart. Tests work on a copy in tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from release.charts import package as chartpkg
from release.errors import ReleaseError
from tests import helm_oracle

FIXTURE = Path(__file__).parents[1] / "fixtures" / "charts" / "app"
MTIME = 1_700_000_000

EXPECTED = [  # save.go writeTarContents: Chart.yaml, values, schema, templates, other files, then subcharts
    "app/Chart.yaml",
    "app/values.yaml",
    "app/values.schema.json",
    "app/templates/NOTES.txt",
    "app/templates/_helpers.tpl",
    "app/templates/deployment.yaml",
    "app/templates/service.yaml",
    "app/.helmignore",
    "app/README.md",
    "app/files/app.conf",
    "app/charts/redis/Chart.yaml",
    "app/charts/redis/values.yaml",
    "app/charts/redis/templates/service.yaml",
]


@pytest.fixture
def chart(tmp_path: Path) -> Path:
    target = tmp_path / "src" / "app"
    shutil.copytree(FIXTURE, target, symlinks=True)
    return target


def entries(archive: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getmembers()


def contents(archive: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None
            out[member.name] = handle.read()
    return out


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def minimal_chart(root: Path, chart_yaml: str = "apiVersion: v2\nname: mini\nversion: 1.0.0\n") -> Path:
    write(root / "Chart.yaml", chart_yaml)
    write(root / "templates" / "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    return root


# --- layout --------------------------------------------------------------------------------------------------


def test_layout_is_helms_chart_yaml_first_ignored_files_absent_subchart_expanded(chart: Path) -> None:
    meta, archive = chartpkg.package(chart, mtime=MTIME)
    assert (meta.name, meta.version, meta.app_version, meta.api_version) == ("app", "0.1.0", "0.1.0", "v2")
    members = entries(archive)
    assert [m.name for m in members] == EXPECTED
    names = {m.name for m in members}
    for dropped in (
        "NOTES.bak",
        "values.yaml~",
        "docs/design.md",
        "ci/test-values.yaml",
        "local-values.yaml",
        "templates/.deployment.yaml.swp",
        "charts/redis/values.bak",
    ):
        assert (chart / dropped).exists()
        assert f"app/{dropped}" not in names
    for member in members:  # regular files only, no directory entries, fixed ownership and time
        assert member.isreg()
        assert (member.mode, member.uid, member.gid, member.uname, member.gname) == (0o644, 0, 0, "", "")
        assert member.mtime == MTIME
    assert contents(archive)["app/values.yaml"] == (chart / "values.yaml").read_bytes()
    assert chartpkg.archive_name(meta) == "app-0.1.0.tgz"


def test_gzip_header_carries_no_time_and_no_name(chart: Path) -> None:
    _, archive = chartpkg.package(chart, mtime=MTIME)
    assert archive[:3] == b"\x1f\x8b\x08"
    assert archive[3] == 0  # FLG: no FNAME, no FEXTRA, no FCOMMENT
    assert archive[4:8] == b"\0\0\0\0"  # MTIME
    tar = gzip.decompress(archive)
    assert len(tar) % 512 == 0 and tar[-1024:] == bytes(1024)  # Go's tar.Writer ends with two zero blocks


def test_same_bytes_from_a_copy_with_other_mtimes_modes_and_umask(chart: Path, tmp_path: Path) -> None:
    _, first = chartpkg.package(chart, mtime=MTIME)
    _, again = chartpkg.package(chart, mtime=MTIME)
    assert first == again

    other = tmp_path / "elsewhere" / "deeper" / "app"
    old = os.umask(0o077)
    try:
        shutil.copytree(chart, other)
    finally:
        os.umask(old)
    for index, path in enumerate(sorted(other.rglob("*"))):
        os.utime(path, (1_000_000 + index * 7919, 2_000_000_000 - index * 104729))
        if path.is_file():
            path.chmod(0o600 if index % 2 else 0o755)
    _, copied = chartpkg.package(other, mtime=MTIME)
    assert hashlib.sha256(copied).hexdigest() == hashlib.sha256(first).hexdigest()

    _, later = chartpkg.package(chart, mtime=MTIME + 1)
    assert later != first  # the caller's time is the only time in the archive


def test_overrides_replace_and_add_files_without_touching_the_disk(chart: Path) -> None:
    chart_yaml = (chart / "Chart.yaml").read_bytes()
    stamp = (chart / "Chart.yaml").stat().st_mtime_ns
    bumped = chart_yaml.replace(b"version: 0.1.0", b"version: 1.4.0").replace(
        b'appVersion: "0.1.0"', b'appVersion: "1.4.0"'
    )
    values = (chart / "values.yaml").read_bytes().replace(b'tag: "0.1.0"', b'tag: "1.4.0"')
    overrides = {"Chart.yaml": bumped, "values.yaml": values, "files/extra.conf": b"new\n"}

    meta, archive = chartpkg.package(chart, mtime=MTIME, overrides=overrides)

    assert (meta.version, meta.app_version) == ("1.4.0", "1.4.0")
    assert chartpkg.read_chart(chart, overrides).version == "1.4.0"
    files = contents(archive)
    assert files["app/Chart.yaml"] == bumped
    assert b'tag: "1.4.0"' in files["app/values.yaml"]
    assert files["app/files/extra.conf"] == b"new\n"
    assert list(files).index("app/files/extra.conf") == list(files).index("app/files/app.conf") + 1
    assert (chart / "Chart.yaml").read_bytes() == chart_yaml
    assert (chart / "Chart.yaml").stat().st_mtime_ns == stamp
    assert not (chart / "files" / "extra.conf").exists()
    assert chartpkg.read_chart(chart).version == "0.1.0"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("/etc/passwd", "is absolute"),
        ("../outside.yaml", "leaves"),
        ("NOTES.bak", ".helmignore"),  # on disk, but ignored: the override would be lost
        ("docs/new.md", "docs/"),  # new, inside an ignored directory
        ("templates/.hidden.yaml", "leaves it out"),  # helm's default rule templates/.?*
    ],
)
def test_an_override_helm_would_drop_or_that_escapes_is_refused(chart: Path, key: str, message: str) -> None:
    with pytest.raises(ReleaseError) as err:
        chartpkg.package(chart, mtime=MTIME, overrides={key: b"x: 1\n"})
    assert message in err.value.message


def test_bom_is_stripped_like_helms_loader(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "mini")
    write(root / "values.yaml", b"\xef\xbb\xbfa: 1\n")
    _, archive = chartpkg.package(root, mtime=MTIME)
    assert contents(archive)["mini/values.yaml"] == b"a: 1\n"


def test_symlink_inside_the_chart_becomes_a_regular_file(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "mini")
    write(root / "files" / "shared.conf", "shared\n")
    (root / "templates" / "linked.txt").symlink_to("../files/shared.conf")
    (root / "config").symlink_to("files", target_is_directory=True)
    _, archive = chartpkg.package(root, mtime=MTIME)
    members = {m.name: m for m in entries(archive)}
    assert members["mini/templates/linked.txt"].isreg()
    assert members["mini/config/shared.conf"].isreg()  # a linked directory is walked, as sympath.Walk does
    assert contents(archive)["mini/templates/linked.txt"] == b"shared\n"


def test_long_and_non_ascii_names_use_go_tar_formats(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "mini")
    long_dir = "files/" + "d" * 110
    write(root / long_dir / "a.txt", "long\n")
    write(root / "files" / "café.txt", "utf-8 name\n")
    _, archive = chartpkg.package(root, mtime=MTIME)
    files = contents(archive)
    assert files[f"mini/{long_dir}/a.txt"] == b"long\n"  # USTAR prefix/name split
    assert files["mini/files/café.txt"] == b"utf-8 name\n"  # PAX path record
    loaded = helm_oracle.load(archive)
    assert "files/café.txt" in loaded.files and f"{long_dir}/a.txt" in loaded.files


def test_vendored_archive_subchart_goes_in_as_is_and_charts_underscore_is_dropped(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "mini")
    vendored = chartpkg.package(
        minimal_chart(tmp_path / "dep", "apiVersion: v2\nname: dep\nversion: 2.0.0\n"), mtime=MTIME
    )[1]
    write(root / "charts" / "dep-2.0.0.tgz", vendored)
    write(root / "charts" / "_scratch" / "notes.txt", "load.go skips charts/_*\n")
    write(
        root / "Chart.yaml",
        "apiVersion: v2\nname: mini\nversion: 1.0.0\ndependencies:\n"
        "  - {name: dep, version: 2.0.0, repository: oci://example.com/charts}\n",
    )
    _, archive = chartpkg.package(root, mtime=MTIME)
    files = contents(archive)
    assert files["mini/charts/dep-2.0.0.tgz"] == vendored
    assert not any("_scratch" in name for name in files)
    assert [d["name"] for d in helm_oracle.load(archive).dependencies] == ["dep"]
    assert "mini/charts/dep/templates/cm.yaml" in helm_oracle.render(archive)


# --- .helmignore: pkg/ignore/rules.go ----------------------------------------------------------------------

IS_DIR = {"cargo", "cargo/", "mast/", ".", "./", ""}


@pytest.mark.parametrize(
    ("pattern", "name", "expect"),
    [  # helm's own table, pkg/ignore/rules_test.go TestIgnore
        ("helm.txt", "helm.txt", True),
        ("helm.*", "helm.txt", True),
        ("helm.*", "rudder.txt", False),
        ("*.txt", "tiller.txt", True),
        ("*.txt", "cargo/a.txt", True),
        ("cargo/*.txt", "cargo/a.txt", True),
        ("cargo/*.*", "cargo/a.txt", True),
        ("cargo/*.txt", "mast/a.txt", False),
        ("ru[c-e]?er.txt", "rudder.txt", True),
        ("templates/.?*", "templates/.dotfile", True),
        (".*", ".", False),
        (".*", "./", False),
        (".*", ".joonix", True),
        (".*", "helm.txt", False),
        (".*", "", False),
        ("cargo/", "cargo", True),
        ("cargo/", "cargo/", True),
        ("cargo/", "mast/", False),
        ("helm.txt/", "helm.txt", False),
        ("!helm.txt", "helm.txt", False),
        ("!helm.txt", "tiller.txt", True),  # a negation ignores everything it does not match
        ("!*.txt", "cargo", True),
        ("!cargo/", "mast/", True),
        ("/a.txt", "a.txt", True),
        ("/a.txt", "cargo/a.txt", False),
        ("/cargo/a.txt", "cargo/a.txt", True),
        # and Go's filepath.Match, not fnmatch: '*' stops at '/', '[^…]' negates, '**' is refused
        ("/*.txt", "cargo/a.txt", False),
        ("*", "cargo/a.txt", True),  # no '/' in the rule: only the base name is matched
        ("c*/a.txt", "cargo/a.txt", True),
        ("cargo/[^b].txt", "cargo/a.txt", True),
        ("cargo/[!b].txt", "cargo/a.txt", False),
        ("cargo/\\a.txt", "cargo/a.txt", True),
    ],
)
def test_helmignore_rules_match_helms_table(pattern: str, name: str, expect: bool) -> None:
    rules = chartpkg._parse_ignore(pattern.encode(), "x", defaults=False)
    assert chartpkg._ignored(rules, name, name in IS_DIR) is expect


@pytest.mark.parametrize("bad", ["foo/**/bar", "[z-", "a\\"])
def test_helmignore_rules_helm_rejects_are_refused(tmp_path: Path, bad: str) -> None:
    root = minimal_chart(tmp_path / "mini")
    write(root / ".helmignore", f"# ok\n*.bak\n{bad}\n")
    with pytest.raises(ReleaseError) as err:
        chartpkg.package(root, mtime=MTIME)
    assert ".helmignore:3" in err.value.message


IGNORE_VARIANTS = [
    "*.md\n!templates/\n",  # helm's odd negation ignores every file here, Chart.yaml too: both refuse
    "!*.*\n*.md\n",  # ... and here every name without a dot, the templates/ directory included
    "/*.txt\nsub/\n[ab]*.yaml\n",
    "docs/*\n*.tpl\n\n# comment\n  spaced.txt  \n",
    "templates/*.yaml\n!templates/keep.yaml\n",
    "nested/deep/\nnotes?.txt\n*/tmp.txt\n",
    "",
]


@pytest.mark.parametrize("rules", IGNORE_VARIANTS)
def test_helmignore_selects_the_files_helm_package_selects(tmp_path: Path, rules: str) -> None:
    root = minimal_chart(tmp_path / "mini")
    for rel in (
        "README.md",
        "a.txt",
        "notes1.txt",
        "spaced.txt",
        "a.yaml",
        "b.yaml",
        "c.yaml",
        "docs/x.md",
        "docs/y.txt",
        "sub/sub.txt",
        "nested/deep/d.txt",
        "nested/tmp.txt",
        "nested/keep.txt",
        "templates/keep.yaml",
        "templates/other.yaml",
        "templates/_helpers.tpl",
        "templates/.hidden",
        "templates/sub/x.yaml",
    ):
        write(root / rel, f"{rel}\n")
    write(root / ".helmignore", rules)
    try:
        _, ours = chartpkg.package(root, mtime=MTIME)
    except ReleaseError as err:
        with pytest.raises(helm_oracle.helm().HelmError):
            helm_oracle.package(root, tmp_path / "helm")
        assert "Chart.yaml" in err.message  # helm fails the same way: its rules dropped Chart.yaml
        return
    theirs = helm_oracle.package(root, tmp_path / "helm")
    assert set(helm_oracle.members(ours)) == set(helm_oracle.members(theirs))


# --- refusals ------------------------------------------------------------------------------------------------

BAD_CHART_YAML = [
    ("apiVersion: v2\nname: x\nversion: [1\n", "not valid YAML"),
    ("- a list\n", "must be a mapping"),
    ("apiVersion: v2\nversion: 1.0.0\n", "name is missing"),
    ("apiVersion: v2\nname: my/chart\nversion: 1.0.0\n", "characters"),
    ("apiVersion: v2\nname: 'my chart'\nversion: 1.0.0\n", "characters"),
    ("apiVersion: v2\nname: ..\nversion: 1.0.0\n", "characters"),
    ("apiVersion: v2\nname: x\n", "version is missing"),
    ("apiVersion: v2\nname: x\nversion: 1.2\n", "must be a string"),
    ("apiVersion: v2\nname: x\nversion: '1.2'\n", "not SemVer 2"),
    ("apiVersion: v2\nname: x\nversion: v1.2.3\n", "not SemVer 2"),
    ("apiVersion: v2\nname: x\nversion: 01.2.3\n", "not SemVer 2"),
    ("name: x\nversion: 1.0.0\n", "apiVersion is missing"),
    ("apiVersion: v3\nname: x\nversion: 1.0.0\n", "not v1 or v2"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\nappVersion: 1.10\n", "appVersion must be a string"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\nname: y\n", "duplicate key"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\ntype: plugin\n", "application or library"),
    ("apiVersion: v1\nname: x\nversion: 1.0.0\ntype: library\n", "needs apiVersion: v2"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\ndeprecated: 'yes'\n", "true or false"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\nannotations: {a: 1}\n", "strings to strings"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\nmaintainers: [~]\n", "maintainers[0]"),
    ("apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies: [{name: a, alias: 'b.c', repository: ''}]\n", "alias"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CHART_YAML)
def test_bad_chart_yaml_is_refused_in_one_line_naming_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    root = minimal_chart(tmp_path / "mini", text)
    for call in (lambda: chartpkg.read_chart(root), lambda: chartpkg.package(root, mtime=MTIME)):
        with pytest.raises(ReleaseError) as err:
            call()
        assert message in err.value.message
        assert f"{root}/Chart.yaml" in err.value.message
        assert "\n" not in err.value.line()


def test_helm_agrees_those_chart_yamls_are_broken(tmp_path: Path) -> None:
    """Where helm still loads a Chart.yaml we refuse, its lint fails it, or we refuse on purpose."""
    stricter = {  # helm loads these; we refuse on purpose
        "must be a string",  # Go's YAML would turn 1.2 into "1.2" and 1.10 into "1.1": quoting removes the guess
        "duplicate key",  # Go's YAML keeps the last one silently
        "strings to strings",  # likewise a guessed conversion
        "characters",  # helm create's rule, [a-zA-Z0-9._-]; OCI repository names would refuse the rest anyway
        "not SemVer 2",  # helm takes 1.2 or v1.2.3 (lint only warns); OCI tags and our version rules need SemVer 2
    }
    disagreements = []
    for index, (text, message) in enumerate(BAD_CHART_YAML):
        root = minimal_chart(tmp_path / f"c{index}", text)
        try:
            report = helm_oracle.lint(root)
        except helm_oracle.helm().HelmError:
            continue
        if not helm_oracle.lint_errors(report) and not any(reason in message for reason in stricter):
            disagreements.append((text, report))
    assert disagreements == []


def test_missing_and_unreadable_chart_yaml(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    with pytest.raises(ReleaseError, match=r"Chart\.yaml: missing"):
        chartpkg.read_chart(root)
    with pytest.raises(ReleaseError, match=r"Chart\.yaml: missing"):
        chartpkg.package(root, mtime=MTIME)
    write(root / "Chart.yaml", b"apiVersion: v2\nname: caf\xe9\nversion: 1.0.0\n")
    with pytest.raises(ReleaseError, match="not UTF-8"):
        chartpkg.read_chart(root)
    with pytest.raises(ReleaseError, match="not a chart directory"):
        chartpkg.package(tmp_path / "nowhere", mtime=MTIME)


@pytest.mark.parametrize(
    ("link", "target", "message"),
    [
        ("files/s.txt", "../../secret.txt", "leaves the chart"),
        ("files/etc", "/etc", "leaves the chart"),
        ("gone.txt", "missing.txt", "does not exist"),
        ("templates/again", "..", "loop"),
    ],
)
def test_symlinks_that_leave_dangle_or_loop_are_refused(tmp_path: Path, link: str, target: str, message: str) -> None:
    write(tmp_path / "secret.txt", "not part of the chart\n")
    root = minimal_chart(tmp_path / "mini")
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(target)
    with pytest.raises(ReleaseError, match=message) as err:
        chartpkg.package(root, mtime=MTIME)
    assert f"{root}/{link}" in err.value.message


def test_a_symlink_helmignore_leaves_out_is_not_followed(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "mini")
    (root / "cache").symlink_to(tmp_path, target_is_directory=True)
    write(root / ".helmignore", "cache/\n")
    _, archive = chartpkg.package(root, mtime=MTIME)
    assert not any("cache" in m.name for m in entries(archive))


def test_files_over_helms_limits_are_refused(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "big")
    with open(root / "blob.bin", "wb") as handle:  # sparse: no 5 MiB written
        handle.truncate(chartpkg.MAX_FILE_SIZE + 1)
    with pytest.raises(ReleaseError, match="over helm's 5242880-byte limit"):
        chartpkg.package(root, mtime=MTIME)
    with pytest.raises(ReleaseError, match="over helm's 5242880-byte limit"):
        chartpkg.package(
            minimal_chart(tmp_path / "big2"),
            mtime=MTIME,
            overrides={"values.yaml": b"#" * (chartpkg.MAX_FILE_SIZE + 1)},
        )

    root = minimal_chart(tmp_path / "many")
    for index in range(20):  # 20 × 5 MiB = 100 MiB: at helm's total limit, which must stay below it
        with open(root / f"part{index:02}.bin", "wb") as handle:
            handle.truncate(chartpkg.MAX_FILE_SIZE)
    with pytest.raises(ReleaseError, match="add up to"):
        chartpkg.package(root, mtime=MTIME)


def test_irregular_files_and_bad_companions_are_refused(tmp_path: Path) -> None:
    root = minimal_chart(tmp_path / "fifo")
    os.mkfifo(root / "pipe")
    with pytest.raises(ReleaseError, match="not a regular file"):
        chartpkg.package(root, mtime=MTIME)
    write(root / ".helmignore", "pipe\n")
    chartpkg.package(root, mtime=MTIME)

    cases = {
        "values.schema.json": ("{not json", "not valid JSON"),
        "values.yaml": ("- a\n- list\n", "must be a mapping"),
        "charts/README.md": ("stray\n", "not a subchart"),
        "requirements.yaml": ("dependencies: []\n", "keep dependencies in Chart.yaml"),
    }
    for index, (rel, (text, message)) in enumerate(cases.items()):
        root = minimal_chart(tmp_path / f"c{index}")
        write(root / rel, text)
        with pytest.raises(ReleaseError, match=message):
            chartpkg.package(root, mtime=MTIME)


def test_declared_dependency_missing_from_charts_is_refused(tmp_path: Path) -> None:
    root = minimal_chart(
        tmp_path / "mini",
        "apiVersion: v2\nname: mini\nversion: 1.0.0\ndependencies:\n"
        "  - {name: postgresql, version: 1.x, repository: oci://x/charts}\n",
    )
    with pytest.raises(ReleaseError, match="missing from charts/: postgresql") as err:
        chartpkg.package(root, mtime=MTIME)
    assert err.value.hint and "release fetches them" in err.value.hint
    with pytest.raises(helm_oracle.helm().HelmError, match="missing in charts/"):
        helm_oracle.package(root, tmp_path / "helm")


@pytest.mark.parametrize("mtime", [-1, 8**11, "1700000000"])
def test_mtime_must_fit_the_tar_header(chart: Path, mtime: object) -> None:
    with pytest.raises(ReleaseError, match="cannot stamp") as err:
        chartpkg.package(chart, mtime=mtime)  # type: ignore[arg-type]
    assert err.value.hint and "SOURCE_DATE_EPOCH" in err.value.hint


# --- chart_json ------------------------------------------------------------------------------------------------

TRICKY_CHART_YAML = """\
apiVersion: v2
name: tricky
version: 1.0.0-rc.1+build.7
kubeVersion: ">=1.28.0-0"
description: "tabs\\tand <html> & \\u2028 line separators \\x01 dropped"
home: https://example.com/?a=1&b=2
icon: https://example.com/icon.png
sources: [https://example.com/src]
keywords: ["with\\ttab", "plain"]
deprecated: true
maintainers:
  - {name: Ann, email: ann@example.com, url: https://example.com/ann}
  - {name: Bob}
annotations: {z-last: "1", a-first: "<b>", "artifacthub.io/prerelease": "true"}
dependencies:
  - name: redis
    version: ">=1.0.0"
    repository: ""
    alias: cache
    tags: [backend]
    enabled: true
    import-values: [{child: z, parent: a}, data]
appVersion: ""
unknownField: dropped
"""


def test_chart_json_is_what_helm_marshals(chart: Path, tmp_path: Path) -> None:
    meta = chartpkg.read_chart(chart)
    assert chartpkg.chart_json(meta) == (
        b'{"name":"app","version":"0.1.0","description":"The demo application, released by `release`.",'
        b'"keywords":["demo","gitops"],"maintainers":[{"name":"Platform Team","email":"platform@example.com"}],'
        b'"apiVersion":"v2","appVersion":"0.1.0","annotations":{"artifacthub.io/license":"Apache-2.0"},'
        b'"dependencies":[{"name":"redis","version":"1.2.0","repository":"file://charts/redis",'
        b'"condition":"redis.enabled"}],"type":"application"}'
    )
    tricky = chartpkg.read_chart(minimal_chart(tmp_path / "tricky", TRICKY_CHART_YAML))
    text = chartpkg.chart_json(tricky).decode()
    assert '"description":"tabs and \\u003chtml\\u003e \\u0026   line separators  dropped"' in text
    assert '"annotations":{"a-first":"\\u003cb\\u003e","artifacthub.io/prerelease":"true","z-last":"1"}' in text
    assert "appVersion" not in text and "unknownField" not in text


@pytest.mark.parametrize("source", ["fixture", "tricky"])
def test_chart_json_matches_helms_loaded_metadata(chart: Path, tmp_path: Path, source: str) -> None:
    root = chart if source == "fixture" else minimal_chart(tmp_path / "tricky", TRICKY_CHART_YAML)
    if source == "tricky":
        write(root / "charts" / "redis" / "Chart.yaml", "apiVersion: v2\nname: redis\nversion: 1.0.0\n")
    meta, archive = chartpkg.package(root, mtime=MTIME)
    ours = json.loads(chartpkg.chart_json(meta))
    helms = helm_oracle.load(archive).metadata
    assert ours == helms
    assert list(ours) == list(helms)  # field order is the Go struct's


def test_helm_push_writes_the_same_config_blob_and_pull_returns_our_bytes(
    chart: Path, tmp_path: Path, registry: object
) -> None:
    """The OCI config helm itself pushes, byte for byte, and the layer is our archive unchanged."""
    root = minimal_chart(tmp_path / "tricky", TRICKY_CHART_YAML)
    write(root / "charts" / "redis" / "Chart.yaml", "apiVersion: v2\nname: redis\nversion: 1.0.0\n")
    host, user, password = registry.host, registry.user, registry.password  # type: ignore[attr-defined]
    with helm_oracle.registry_client(credentials_file=tmp_path / "helm-registry.json") as client:
        helm_oracle.login(client, host, user, password)
        for source in (chart, root):
            meta, archive = chartpkg.package(source, mtime=MTIME)
            path = write(tmp_path / "out" / chartpkg.archive_name(meta), archive)
            helm_oracle.push(client, path, f"oci://{host}/test-chartpkg")
            tag = meta.version.replace("+", "_")
            manifest = registry.manifest(  # type: ignore[attr-defined]
                f"test-chartpkg/{meta.name}", tag, accept=["application/vnd.oci.image.manifest.v1+json"]
            ).json()
            config = registry.blob(f"test-chartpkg/{meta.name}", manifest["config"]["digest"]).content  # type: ignore[attr-defined]
            assert config == chartpkg.chart_json(meta)
            assert manifest["layers"][0]["digest"] == "sha256:" + hashlib.sha256(archive).hexdigest()
            pulled = helm_oracle.pull(
                client, f"oci://{host}/test-chartpkg/{meta.name}", tmp_path / "pulled", version=meta.version
            )
            assert pulled.read_bytes() == archive


# --- Helm as the oracle ----------------------------------------------------------------------------------------


def test_helm_loads_lints_and_renders_our_archive_with_overrides(chart: Path, tmp_path: Path) -> None:
    bumped = (chart / "Chart.yaml").read_bytes().replace(b"version: 0.1.0", b"version: 2.3.4-rc.1")
    bumped = bumped.replace(b'appVersion: "0.1.0"', b'appVersion: "2.3.4-rc.1"')
    values = yaml.safe_load((chart / "values.yaml").read_text())
    values["image"]["tag"] = "2.3.4-rc.1"
    overrides = {"Chart.yaml": bumped, "values.yaml": yaml.safe_dump(values).encode()}
    meta, archive = chartpkg.package(chart, mtime=MTIME, overrides=overrides)

    loaded = helm_oracle.load(archive)
    assert (loaded.name, loaded.version, loaded.app_version) == ("app", "2.3.4-rc.1", "2.3.4-rc.1")
    assert loaded.values["image"]["tag"] == "2.3.4-rc.1"
    assert [d["name"] for d in loaded.dependencies] == ["redis"]

    path = write(tmp_path / chartpkg.archive_name(meta), archive)
    report = helm_oracle.lint(path, strict=True)
    assert helm_oracle.lint_errors(report) == []
    assert [m["error"] for m in report["messages"] if m["severity"] >= 2] == []

    manifests = helm_oracle.render(archive)
    assert 'image: "registry.example.com/team/app:2.3.4-rc.1"' in manifests["app/templates/deployment.yaml"]
    assert "helm.sh/chart: app-2.3.4-rc.1" in manifests["app/templates/deployment.yaml"]
    assert "app/charts/redis/templates/service.yaml" in manifests
    digest = "sha256:" + "ab" * 32
    pinned = helm_oracle.render(archive, {"image": {"tag": "9.9.9", "digest": digest}})
    assert f"app:9.9.9@{digest}" in pinned["app/templates/deployment.yaml"]


def test_same_files_in_the_same_order_as_helm_package(chart: Path, tmp_path: Path) -> None:
    _, ours = chartpkg.package(chart, mtime=MTIME)
    theirs = helm_oracle.package(chart, tmp_path / "helm")
    assert helm_oracle.members(ours) == helm_oracle.members(theirs) == EXPECTED
    ours_files, theirs_files = contents(ours), contents(theirs.read_bytes())
    for name in EXPECTED:  # helm re-serialises Chart.yaml; everything else is byte for byte the same
        if not name.endswith("Chart.yaml"):
            assert ours_files[name] == theirs_files[name], name
    assert hashlib.sha256(ours).digest() != hashlib.sha256(theirs.read_bytes()).digest()


def test_odd_layouts_select_the_files_helm_package_selects(tmp_path: Path) -> None:
    """Subchart folders named after their Chart.yaml, charts/_* and charts/.* dropped, .prov kept, v1 locks."""
    lock = "dependencies: []\ndigest: sha256:0\ngenerated: '2024-01-01T00:00:00Z'\n"
    root = minimal_chart(tmp_path / "v2")
    write(root / "Chart.lock", lock)
    write(root / "charts" / "redis-stack" / "Chart.yaml", "apiVersion: v2\nname: redis\nversion: 1.0.0\n")
    write(root / "charts" / "redis-stack" / "Chart.lock", lock)
    write(root / "charts" / "_drafts" / "Chart.yaml", "apiVersion: v2\nname: draft\nversion: 1.0.0\n")
    write(root / "charts" / ".cache" / "x.txt", "x\n")
    write(root / "charts" / "redis-1.0.0.tgz.prov", "signature\n")
    v1 = minimal_chart(tmp_path / "v1", "apiVersion: v1\nname: old\nversion: 1.0.0\n")
    write(v1 / "Chart.lock", lock)  # save.go writes Chart.lock for v2 charts only
    write(v1 / "requirements.yaml", "dependencies: []\n")
    write(v1 / "requirements.lock", lock)
    for source in (root, v1):
        _, ours = chartpkg.package(source, mtime=MTIME)
        theirs = helm_oracle.package(source, tmp_path / "helm")
        assert helm_oracle.members(ours) == helm_oracle.members(theirs), source.name
    assert "mini/charts/redis/Chart.lock" in helm_oracle.members(chartpkg.package(root, mtime=MTIME)[1])

    write(root / "charts" / "other" / "Chart.yaml", "apiVersion: v2\nname: redis\nversion: 2.0.0\n")
    with pytest.raises(ReleaseError, match="two subcharts named 'redis'"):
        chartpkg.package(root, mtime=MTIME)


@pytest.mark.parametrize("word", ["y", "Y", "n", "N"])
def test_an_unquoted_y_or_n_is_a_boolean_to_helm_and_must_be_quoted(tmp_path, word):
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: c\nversion: 0.1.0\nannotations:\n  flag: {word}\n")
    with pytest.raises(ReleaseError, match="annotations must map strings to strings"):
        chartpkg.read_chart(chart)
    (chart / "Chart.yaml").write_text(f'apiVersion: v2\nname: c\nversion: 0.1.0\nannotations:\n  flag: "{word}"\n')
    assert chartpkg.read_chart(chart).raw["annotations"] == {"flag": word}
