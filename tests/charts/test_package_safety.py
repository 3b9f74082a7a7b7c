"""Chart archive safety from the user's side: `release chart` on a real repo whose chart holds something unsafe.

Every case exits 1 with one line that names the offending file (or archive member) and says what to do, and
no archive is written to .release/charts. Limits are helm v4.2.3's (pkg/chart/loader/archive/archive.go):
5 MiB a file, under 100 MiB in all. Symlinks that stay inside the chart are followed, as helm's sympath.Walk
does, with a warning; links leaving the chart, and links, devices and `..` inside vendored archives, are refused.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from release.charts import package as chartpkg
from tests.charts.test_publish import archive_files, chart_repo
from tests.conftest import Repo, assert_one_line_error

SECRET = "hunter2-do-not-leak"
CHART = "charts/demo"


def no_archive(repo: Repo) -> bool:
    out = repo.path / ".release" / "charts"
    return not out.exists() or not any(out.iterdir())


def refused(repo: Repo, release, *needles: str) -> None:  # type: ignore[no-untyped-def]
    result = release(repo, "chart")
    assert_one_line_error(result, *needles)
    assert SECRET not in result.err + result.out
    assert no_archive(repo)


@pytest.fixture
def demo(repo: Repo, tmp_path: Path) -> Repo:
    chart_repo(repo, values='    values: {image.tag: "{version}"}\n')
    (tmp_path / "secret.txt").write_text(f"password: {SECRET}\n")
    repo.write("secret.txt", f"password: {SECRET}\n")  # in the repo, outside the chart
    return repo


def link(repo: Repo, rel: str, target: str) -> Path:
    path = repo.path / CHART / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)
    return path


# --- the chart directory ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "target", "message"),
    [
        ("templates/secret.yaml", "../../../secret.txt", "symlink leaves the chart directory"),
        ("files/passwd", "/etc/passwd", "symlink leaves the chart directory"),
        ("files/etc", "/etc", "symlink leaves the chart directory"),
        ("templates/shared", "../..", "symlink leaves the chart directory"),
        ("templates/gone.yaml", "missing.yaml", "does not exist"),
        ("templates/again", "..", "symlink loop"),
        ("templates/self.yaml", "self.yaml", "symlink loop"),
    ],
)
def test_symlinks_leaving_dangling_or_looping_are_refused(demo, release, rel, target, message):
    link(demo, rel, target)
    demo.git("add", "-A")
    demo.git("commit", "-qm", "fix: add a link")
    refused(demo, release, f"{CHART}/{rel}", message)


def test_chart_yaml_or_values_linked_from_outside_are_refused_before_they_are_read(demo, release, tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(f"apiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: {SECRET}\n")
    link(demo, "Chart.yaml", str(outside))
    refused(demo, release, f"{CHART}/Chart.yaml", "leaves the chart directory")

    chart_repo_values = demo.path / CHART / "Chart.yaml"
    chart_repo_values.unlink()
    demo.write(f"{CHART}/Chart.yaml", "apiVersion: v2\nname: demo\nversion: 0.0.1\n")
    link(demo, "values.yaml", str(tmp_path / "secret.txt"))
    refused(demo, release, f"{CHART}/values.yaml", "leaves the chart directory")


@pytest.mark.parametrize("values_file", ["../../secret.txt", "/etc/hostname", "..\\..\\secret.txt"])
def test_values_file_outside_the_chart_is_refused(repo, release, values_file):
    extra = f"    values_file: '{values_file}'\n"
    chart_repo(repo, values='    values: {image.tag: "{version}"}\n', extra=extra)
    repo.write("secret.txt", f"password: {SECRET}\n")
    refused(repo, release, values_file, "not a file inside the chart directory")


def test_a_symlink_inside_the_chart_is_followed_with_a_warning(demo, release):
    demo.write(f"{CHART}/files/app.conf", "shared = true\n")
    link(demo, "templates/app.txt", "../files/app.conf")
    link(demo, "config", "files")
    demo.git("add", "-A")
    demo.git("commit", "-qm", "fix: share a file")
    result = release(demo, "chart")
    assert result.code == 0, result.err
    assert f"{CHART}/templates/app.txt: symlink to '../files/app.conf'" in result.err
    assert f"{CHART}/config: symlink to 'files'" in result.err
    archive = (demo.path / ".release/charts/demo-1.0.1.tgz").read_bytes()
    files = archive_files(archive)
    assert files["demo/templates/app.txt"] == files["demo/config/app.conf"] == b"shared = true\n"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert all(member.isreg() for member in tar.getmembers())


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("files/..\\..\\evil.yaml", "backslash"),
        ("c:/evil.yaml", "Windows drive"),
    ],
)
def test_names_helm_would_read_as_another_path_are_refused(demo, release, rel, message):
    demo.write(f"{CHART}/{rel}", "kind: ConfigMap\n")
    refused(demo, release, f"{CHART}/{rel}", message)


def test_a_fifo_in_the_chart_is_refused(demo, release):
    os.mkfifo(demo.path / CHART / "files.pipe")
    refused(demo, release, f"{CHART}/files.pipe", "not a regular file")


def test_a_file_over_helms_5_mib_limit_is_refused(demo, release):
    with open(demo.path / CHART / "blob.bin", "wb") as handle:
        handle.truncate(chartpkg.MAX_FILE_SIZE + 1)  # sparse: nothing big on disk
    refused(demo, release, f"{CHART}/blob.bin", "5242880", ".helmignore")


def test_a_chart_adding_up_to_helms_100_mib_limit_is_refused(demo, release):
    for index in range(20):  # 20 × 5 MiB: each file allowed, the chart at 100 MiB is not
        with open(demo.path / CHART / f"part{index:02}.bin", "wb") as handle:
            handle.truncate(chartpkg.MAX_FILE_SIZE)
    refused(demo, release, CHART, "add up to", str(chartpkg.MAX_CHART_SIZE))


# --- vendored dependency archives (charts/*.tgz) -------------------------------------------------------------


def tgz(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            info.size = len(data) if info.isreg() else 0
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def member(name: str, data: bytes = b"kind: ConfigMap\n", kind: bytes = tarfile.REGTYPE, target: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, data


CHART_YAML = member("dep/Chart.yaml", b"apiVersion: v2\nname: dep\nversion: 1.0.0\n")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (member("dep/../../evil.yaml"), "points outside the chart"),
        (member("../evil.yaml"), "points outside the chart"),
        (member("dep\\..\\..\\evil.yaml"), "points outside the chart"),
        (member("/etc/cron.d/evil"), "absolute path"),
        (member("dep//etc/cron.d/evil"), "absolute path"),
        (member("C:\\Windows\\evil"), "absolute path"),
        (member("dep/c:/evil"), "absolute path"),
        (member("evil.yaml"), "not inside the chart's folder"),
        (member("dep/templates/link.yaml", kind=tarfile.SYMTYPE, target="/etc/passwd"), "symbolic link"),
        (member("dep/templates/up.yaml", kind=tarfile.SYMTYPE, target="../../secret.txt"), "symbolic link"),
        (member("dep/templates/hard.yaml", kind=tarfile.LNKTYPE, target="dep/Chart.yaml"), "hard link"),
        (member("dep/dev/null", kind=tarfile.CHRTYPE), "device"),
        (member("dep/dev/sda", kind=tarfile.BLKTYPE), "device"),
        (member("dep/pipe", kind=tarfile.FIFOTYPE), "pipe"),
        (member("dep/big.bin", b"\0" * (chartpkg.MAX_FILE_SIZE + 1)), "size limits"),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0].name,
)
def test_a_vendored_archive_with_unsafe_members_is_refused(demo, release, bad, message):
    archive = demo.write(f"{CHART}/charts/dep-1.0.0.tgz", "")
    archive.write_bytes(tgz([CHART_YAML, bad]))
    demo.git("add", "-A")
    demo.git("commit", "-qm", "fix: vendor dep")
    refused(demo, release, f"{CHART}/charts/dep-1.0.0.tgz", repr(bad[0].name), message)


def test_an_unsafe_member_nested_two_archives_deep_is_refused(demo, release):
    inner = tgz([member("inner/Chart.yaml", b"apiVersion: v2\nname: inner\nversion: 1.0.0\n"), member("inner/../x")])
    outer = tgz([CHART_YAML, member("dep/charts/inner-1.0.0.tgz", inner)])
    demo.write(f"{CHART}/charts/dep-1.0.0.tgz", "").write_bytes(outer)
    refused(demo, release, "dep-1.0.0.tgz:charts/inner-1.0.0.tgz", "inner/../x", "points outside the chart")


def test_a_gzip_bomb_stops_at_helms_budget(demo, release):
    many = [CHART_YAML] + [member(f"dep/files/{index:03}.bin", b"\0" * chartpkg.MAX_FILE_SIZE) for index in range(21)]
    demo.write(f"{CHART}/charts/dep-1.0.0.tgz", "").write_bytes(tgz(many))  # ~100 KiB compressed
    refused(demo, release, f"{CHART}/charts/dep-1.0.0.tgz", "size limits")


def test_a_safe_vendored_archive_goes_in_as_it_is(demo, release):
    chart_yaml = (demo.path / CHART / "Chart.yaml").read_text()
    demo.write(f"{CHART}/Chart.yaml", chart_yaml + "dependencies:\n  - {name: dep, version: 1.0.0, repository: ''}\n")
    safe = tgz([CHART_YAML, member("dep/templates/cm.yaml"), member("dep/templates", b"", kind=tarfile.DIRTYPE)])
    demo.write(f"{CHART}/charts/dep-1.0.0.tgz", "").write_bytes(safe)
    result = release(demo, "chart")
    assert result.code == 0, result.err
    files = archive_files((demo.path / ".release/charts/demo-1.0.1.tgz").read_bytes())
    assert files["demo/charts/dep-1.0.0.tgz"] == safe


@pytest.mark.parametrize("where", ["outside", "absolute", "link"])
def test_a_chart_path_leaving_the_repository_is_refused(repo, release, tmp_path, where):
    chart_repo(repo)
    outside = tmp_path / "elsewhere" / "demo"
    outside.mkdir(parents=True)
    for name in ("Chart.yaml", "values.yaml"):
        (outside / name).write_bytes((repo.path / CHART / name).read_bytes())
    (outside / "templates").mkdir()
    (outside / "templates" / "secret.yaml").write_text(f"kind: Secret\ndata: {{password: {SECRET}}}\n")
    path = {"outside": "../elsewhere/demo", "absolute": str(outside), "link": "charts/linked"}[where]
    if where == "link":
        (repo.path / "charts" / "linked").symlink_to(outside, target_is_directory=True)
    repo.write("release.yaml", f"charts:\n  - path: {path}\n")
    refused(repo, release, f"({path})", "not a directory inside the repository")
