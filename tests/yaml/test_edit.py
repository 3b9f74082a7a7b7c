"""Byte-preserving YAML edits: every edge case of /work/shared/YAML-EDGE-CASES.md has a fixture whose expected
output is compared byte for byte; refusals are one-line ReleaseErrors; hypothesis checks set → get round trips."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.errors import ReleaseError
from release.yaml import edit as yamledit
from release.yaml.edit import get_value, parse_path, set_kustomize_image, set_values

FIXTURES = Path(__file__).parents[1] / "fixtures" / "yamledit"
DIGEST = "sha256:" + "ab" * 32

Edit = Callable[[str], str]


def values(edits: dict[str, str], **options: Any) -> Edit:
    return functools.partial(_set, edits=edits, options=options)


def _set(text: str, *, edits: dict[str, str], options: dict[str, Any]) -> str:
    return set_values(text, edits, filename="input.yaml", **options)


def kustomize(name: str, **fields: str) -> Edit:
    return lambda text: set_kustomize_image(text, name, filename="input.yaml", **fields)


# case directory → the edit whose output must equal expected.yaml byte for byte
CASES: dict[str, Edit] = {
    "01-comments": values({"image.tag": "1.5.0"}),
    "02-quote-styles": values({"api.image.tag": "2.4.0", "worker.image.tag": "2.4.0", "cron.image.tag": "2.4.0"}),
    "03-type-drift": values(
        {
            "build.tag": "123456",
            "short.tag": "1.20",
            "minor.tag": "1.2",
            "exponent.tag": "1e3",
            "boolean.tag": "true",
            "nothing.tag": "null",
            "hex.tag": "0x1F",
            "tilde.tag": "~",
            "octal.tag": "0o17",
            "yes.tag": "yes",
            "date.tag": "2024-01-31",
            "colon.tag": "a: b",
            "hash.tag": "a #b",
            "spaces.tag": " padded ",
            "empty.tag": "",
            "semver.tag": "1.2.3",
            "keepsingle.tag": "1.20",
        }
    ),
    "04-header-directive": values({"image.tag": "1.0.0"}),
    "05-multidoc-match": values(
        {"spec.chart.spec.version": "2.1.0", "spec.values.image.tag": "2.1.0"},
        match={"kind": "HelmRelease", "metadata.name": "frontend"},
    ),
    "05-multidoc-document": values({"spec.values.image.tag": "3.2.0"}, document=1),
    "05-multidoc-only-one-has-path": values({"spec.chart.spec.version": "1.1.0"}),
    "06-anchors-allowed": values({"defaults.image.tag": "5.1.0"}, allow_anchor=True),
    "06-anchors-sibling": values({"worker.name": "worker-v2", "api.name": "api-v2"}),
    "06-merge-keys-kept": values({"services.api.image": "ghcr.io/acme/api:1.1.0"}),
    "07-block-scalars": values({"image.tag": "1.1.0"}),
    "08-flow-mapping": values({"image.tag": "1.1.0", "sidecar.tag": "0.4.0", "sidecar.image": "ghcr.io/acme/proxy2"}),
    "08-flow-sequence": values({"args[1]": "9090", "args.3": "debug, verbose"}),
    "08-flow-create": values({"image.digest": DIGEST, "sidecar.resources.cpu": "100m"}, create=True),
    "09-seq-at-parent-column": values(
        {
            "spec.template.spec.containers[0].image": "ghcr.io/acme/app:1.1.0",
            "spec.template.spec.containers.1.tag": "1",
        },
        create=True,
    ),
    "09-seq-indented": values(
        {
            "spec.template.spec.containers[0].image": "ghcr.io/acme/app:1.1.0",
            "spec.template.spec.containers[0].env[0].value": "debug",
            "spec.template.spec.containers[1].imagePullPolicy": "Always",
        },
        create=True,
    ),
    "10-dotted-keys": values(
        {
            'metadata.annotations."example.com/version"': "1.1.0",
            "metadata.annotations.app\\.kubernetes\\.io/version": "1.1.0",
            'metadata.labels."app.kubernetes.io/version"': "1.1.0",
        },
        create=True,
    ),
    "11-create-values-digest": values({"image.digest": DIGEST}, create=True),
    "11-create-nested": values({"image.tag": "1.0.0", "image.repository": "ghcr.io/acme/app"}, create=True),
    "11-create-under-empty-value": values({"image.tag": "1.0"}, create=True),
    "11-kustomize-no-images": kustomize("ghcr.io/acme/app", new_tag="1.20"),
    "12-crlf": values({"image.tag": "1.0.1"}),
    "12-crlf-create": values({"image.digest": DIGEST, "service.annotations.team": "paiement"}, create=True),
    "12-no-final-newline": values({"image.tag": "1.0.1"}),
    "12-no-final-newline-create": values({"image.digest": DIGEST, "podLabels.team": "shop"}, create=True),
    "14-avp-placeholders": values({"image.tag": "1.1.0"}),
    "15-unicode-tabs": values({"image.tag": "1.1.0", "image.note": "fusée 🚀\tprête"}),
    "16-kustomize-set-tag": kustomize("ghcr.io/acme/app", new_tag="1.1.0"),
    "16-kustomize-add-fields": kustomize("nginx", new_tag="1.25", digest=DIGEST),
    "16-kustomize-digest-only": kustomize("redis", digest=DIGEST),
    "16-kustomize-new-entry": kustomize("ghcr.io/acme/worker", new_name="registry.example.com/worker", new_tag="2.0"),
    "16-kustomize-indented-new-entry": kustomize("ghcr.io/acme/worker", new_tag="2.0.0"),
    "16-kustomize-empty-images": kustomize("ghcr.io/acme/app", new_tag="3.0.0", digest=DIGEST),
    "17-two-images": values({"app.image.tag": "1.1.0"}),
    "18-flux-imagepolicy": values(
        {
            "spec.chart.spec.version": "1.1.0",
            "spec.values.image.tag": "1.1.0",
            "spec.values.sidecar.image": "ghcr.io/acme/proxy:0.4.0",
        }
    ),
    "argocd-application": values(
        {
            "spec.source.targetRevision": "1.1.0",
            "spec.source.helm.parameters[0].value": "1.1.0",
            "spec.source.helm.valuesObject.image.tag": "1.1.0",
        }
    ),
    "chart-yaml": values({"version": "1.4.0", "appVersion": "1.4.0"}, create=True),
    "chart-yaml-no-appversion": values({"version": "0.2.0", "appVersion": "0.2.0"}, create=True),
    "unchanged": values({"image.tag": "1.2.3"}),
}

# case directory (input.yaml only) → the call and words its one-line error must contain
ERROR_CASES: dict[str, tuple[Edit, str]] = {
    "13-go-template": (values({"data.version": "1.0.0"}), "input.yaml:1: not YAML"),
}

# every numbered edge case of YAML-EDGE-CASES.md has at least one fixture
EDGE_CASES = range(1, 19)


def read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # not read_text: it would turn CRLF into LF


def fixture(case: str) -> str:
    return read(FIXTURES / case / "input.yaml")


@pytest.mark.parametrize("case", sorted(CASES))
def test_fixture_output_is_byte_exact(case: str) -> None:
    expected = read(FIXTURES / case / "expected.yaml")
    assert CASES[case](fixture(case)) == expected


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_fixture_refused_with_one_line(case: str) -> None:
    call, words = ERROR_CASES[case]
    with pytest.raises(ReleaseError) as err:
        call(fixture(case))
    assert words in err.value.line()
    assert "\n" not in err.value.line()


def test_every_fixture_is_used_and_every_edge_case_covered() -> None:
    dirs = {p.name for p in FIXTURES.iterdir() if p.is_dir()}
    assert dirs == set(CASES) | set(ERROR_CASES)
    numbered = {int(name[:2]) for name in dirs if name[:2].isdigit()}
    assert set(EDGE_CASES) <= numbered
    for case in CASES:
        assert (FIXTURES / case / "expected.yaml").is_file(), case
    for case in ERROR_CASES:
        assert not (FIXTURES / case / "expected.yaml").exists(), case


def test_fixture_files_keep_their_line_endings() -> None:
    assert "\r\n" in fixture("12-crlf") and "\r\n" in read(FIXTURES / "12-crlf-create" / "expected.yaml")
    assert not fixture("12-no-final-newline").endswith("\n")
    assert not read(FIXTURES / "12-no-final-newline-create" / "expected.yaml").endswith("\n")


def test_unchanged_value_returns_the_same_text() -> None:
    text = fixture("unchanged")
    assert set_values(text, {"image.tag": "1.2.3"}) is text
    assert set_values(text, {}) is text


def test_only_the_value_bytes_change() -> None:
    before, after = fixture("01-comments"), CASES["01-comments"](fixture("01-comments"))
    assert before.replace("tag: 1.4.2  #", "tag: 1.5.0  #") == after


# --------------------------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("image.tag", ("image", "tag")),
        ("spec.chart.spec.version", ("spec", "chart", "spec", "version")),
        ('metadata.annotations."example.com/version"', ("metadata", "annotations", "example.com/version")),
        ("metadata.annotations.example\\.com/version", ("metadata", "annotations", "example.com/version")),
        ("containers[0].image", ("containers", 0, "image")),
        ("containers.0.image", ("containers", "0", "image")),
        ("a[1][2]", ("a", 1, 2)),
        ('"a\\"b".c', ('a"b', "c")),
        ('"x[0]"[3]', ("x[0]", 3)),
    ],
)
def test_path_syntax(path: str, segments: tuple[object, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize("path", ["", "a..b", "a.", ".a", "a[x]", "a[-1]", "a[0", '"a', '"a"b'])
def test_bad_paths_are_user_errors(path: str) -> None:
    with pytest.raises(ReleaseError) as err:
        parse_path(path)
    assert "bad path" in err.value.message and err.value.hint


# --------------------------------------------------------------------------------------------- refusals


def refused(text: str, edits: dict[str, str], **options: Any) -> str:
    with pytest.raises(ReleaseError) as err:
        set_values(text, edits, filename="values.yaml", **options)
    line = err.value.line()
    assert "\n" not in line and line.startswith("values.yaml")
    return line


def test_anchored_value_is_refused_and_says_who_shares_it() -> None:
    line = refused(fixture("06-anchors-allowed"), {"defaults.image.tag": "5.1.0"})
    assert "is the anchor &tag (line 4), also used at line 13" in line and "allow_anchor" in line


def test_value_reached_through_alias_is_refused() -> None:
    line = refused(fixture("06-anchors-allowed"), {"api.annotations.version": "5.1.0"})
    assert "alias *tag (line 13)" in line and "&tag (line 4)" in line
    line = refused(fixture("06-anchors-allowed"), {"api.image.tag": "5.1.0"})
    assert "alias *defaults" in line


def test_value_inside_a_shared_anchor_is_refused() -> None:
    line = refused(fixture("06-anchors-allowed"), {"defaults.resources.limits.memory": "1Gi"})
    assert "inside the anchor &defaults (line 1), also used at lines 10, 16" in line
    refused(fixture("06-anchors-allowed"), {"defaults.image.digest": DIGEST}, create=True)


def test_allow_anchor_through_an_alias_edits_the_anchored_node() -> None:
    through_alias = set_values(fixture("06-anchors-allowed"), {"api.image.tag": "5.1.0"}, allow_anchor=True)
    assert through_alias == read(FIXTURES / "06-anchors-allowed" / "expected.yaml")


def test_an_anchor_nobody_uses_is_just_a_value() -> None:
    assert set_values("a: &lonely 1.0.0\nb: 2\n", {"a": "1.1.0"}) == "a: &lonely 1.1.0\nb: 2\n"


def test_block_scalar_target_is_refused() -> None:
    line = refused(fixture("07-block-scalars"), {"configmap.motd": "hello"})
    assert "block scalar (>)" in line


def test_explicit_tags() -> None:
    assert set_values("a: !!str 1.0\n", {"a": "2.0"}) == 'a: !!str "2.0"\n'
    assert "explicit tag !vault" in refused("a: !vault secret/x\n", {"a": "y"})


def test_not_a_scalar_is_refused() -> None:
    assert "is a mapping, not a single value" in refused(fixture("17-two-images"), {"app.image": "x"})
    assert "is a list" in refused(fixture("09-seq-indented"), {"spec.template.spec.containers": "x"})


def test_missing_path_names_file_path_and_create() -> None:
    line = refused(fixture("11-create-values-digest"), {"image.digest": DIGEST})
    assert "no image.digest" in line and "'digest'" in line and "create: true" in line


def test_missing_path_under_a_scalar_or_list() -> None:
    assert "single value ('ghcr.io/acme/app')" in refused(fixture("17-two-images"), {"app.image.repository.x": "1"})
    line = refused(fixture("09-seq-indented"), {"spec.template.spec.containers[5].image": "x"}, create=True)
    assert "list of 2 item(s)" in line and "not list items" in line
    assert "single value (null)" in refused("image: ~\n", {"image.tag": "1"}, create=True)


def test_duplicate_keys_are_refused() -> None:
    assert "written 2 times (lines 2, 3)" in refused("image:\n  tag: 1\n  tag: 2\n", {"image.tag": "3"})


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("image:\n  tag: [1.0\n", 3),
        ("a: 1\nb: 'open\n", 3),
        ("a: 1\n\tb: 2\n", 2),
        ("a: *nowhere\n", 1),
        ("a: \x07\n", 1),
    ],
)
def test_not_yaml_names_the_line(text: str, line_number: int) -> None:
    line = refused(text, {"a": "1"})
    assert line.startswith(f"values.yaml:{line_number}: not YAML")


def test_go_template_hint() -> None:
    line = refused("name: {{ .Release.Name }}-app\n", {"name": "x"})
    assert "Go template" in line
    with pytest.raises(ReleaseError):
        get_value(fixture("13-go-template"), "data.version")


# --------------------------------------------------------------------------------------------- documents


def test_several_documents_with_the_path_ask_which_one() -> None:
    line = refused(fixture("05-multidoc-match"), {"spec.values.image.tag": "1"})
    assert "documents 1, 2" in line and "document: N" in line and "match:" in line


def test_match_errors_list_the_documents() -> None:
    line = refused(fixture("05-multidoc-match"), {"spec.values.image.tag": "1"}, match={"kind": "HelmRelease"})
    assert "2 documents match kind=HelmRelease" in line and "1: HelmRelease/backend" in line
    line = refused(fixture("05-multidoc-match"), {"a": "1"}, match={"metadata.name": "nope"})
    assert "no document matches" in line


def test_document_out_of_range() -> None:
    assert "no document 3 (the file has 3)" in refused(fixture("05-multidoc-match"), {"a": "1"}, document=3)


def test_document_counts_only_real_documents() -> None:
    text = fixture("05-multidoc-only-one-has-path")
    assert get_value(text, "kind", document=1) == "HelmRelease"
    assert get_value(text, "spec.chart.spec.version") == "1.0.0"


def test_create_in_a_multi_document_file_needs_a_document() -> None:
    line = refused(fixture("05-multidoc-match"), {"spec.suspend": "no"}, create=True)
    assert "no document of 3 has spec.suspend" in line and "document: N" in line
    out = set_values(fixture("05-multidoc-match"), {"spec.suspend": "no"}, create=True, document=0)
    assert '  url: oci://ghcr.io/acme/charts\n  suspend: "no"\n---\n' in out


# --------------------------------------------------------------------------------------------- reading


def test_get_value() -> None:
    text = fixture("06-anchors-allowed")
    assert get_value(text, "worker.image.tag") == "5.0.0"  # through the merge key: reading is fine
    assert get_value(text, "api.annotations.version") == "5.0.0"
    assert get_value(text, "api.image.digest") is None
    assert get_value("a:\n", "a") is None
    assert get_value('a: ""\n', "a") == ""
    assert get_value("", "a") is None
    assert (
        get_value(fixture("05-multidoc-match"), "spec.values.image.tag", match={"metadata.name": "backend"}) == "3.1.0"
    )
    with pytest.raises(ReleaseError, match="not a single value"):
        get_value(text, "defaults.image")


# --------------------------------------------------------------------------------------------- smaller edits


def test_empty_file_and_comment_only_file_get_created_keys() -> None:
    assert set_values("", {"image.tag": "1.0"}, create=True) == 'image:\n  tag: "1.0"\n'
    assert set_values("# values\n", {"a": "b"}, create=True) == "# values\na: b\n"
    assert "no YAML document" in refused("# values\n", {"a": "b"})
    assert set_values("---\n", {"a": "b"}, create=True) == "---\na: b\n"
    assert "only empty documents" in refused("---\n---\n", {"a": "b"}, create=True)


def test_empty_value_gets_a_space() -> None:
    assert set_values("image:\n  tag:\n", {"image.tag": "1.0.0"}) == "image:\n  tag: 1.0.0\n"
    assert set_values("tags:\n- \n- b\n", {"tags[0]": "a"}) == "tags:\n- a \n- b\n"


def test_multi_line_plain_value_becomes_one_line() -> None:
    assert set_values("a: one\n  two\nb: 1\n", {"a": "three"}) == "a: three\nb: 1\n"


def test_properties_before_the_value_stay() -> None:
    text = "a: &x # the anchor\n  1.0\nb: *x\n"
    assert set_values(text, {"a": "2"}, allow_anchor=True) == 'a: &x # the anchor\n  "2"\nb: *x\n'
    assert set_values("a: !!str\n", {"a": "x"}) == "a: !!str x\n"


def test_byte_order_mark_and_document_end_marker() -> None:
    assert set_values("\ufeffa: 1\n", {"b": "x"}, create=True) == "\ufeffa: 1\nb: x\n"
    assert set_values("a: 1\n...\n", {"b": "x"}, create=True) == "a: 1\nb: x\n...\n"


def test_quote_styles_survive_values_they_cannot_hold() -> None:
    assert set_values("a: 'x'\n", {"a": "it's"}) == "a: 'it''s'\n"
    assert set_values("a: 'x'\n", {"a": "two\nlines"}) == 'a: "two\\nlines"\n'
    assert set_values('a: "x"\n', {"a": 'say "hi" \\o/'}) == 'a: "say \\"hi\\" \\\\o/"\n'
    assert set_values("a: x\n", {"a": "bell\x07"}) == 'a: "bell\\a"\n'
    assert set_values("a: x\n", {"a": "\x85\u2028\ufeff\x7f"}) == 'a: "\\N\\L\\uFEFF\\x7F"\n'


def test_created_keys_are_quoted_when_needed() -> None:
    out = set_values("a: 1\n", {'"true"': "x", '"has: colon"': "y", '"n"': "z"}, create=True)
    assert out == 'a: 1\n"true": x\n"has: colon": "y"\n"n": z\n'


def test_block_scalar_as_last_value_before_created_key() -> None:
    out = set_values("a:\n  script: |\n    echo hi\nb: 1\n", {"a.tag": "1.0.0"}, create=True)
    assert out == "a:\n  script: |\n    echo hi\n  tag: 1.0.0\nb: 1\n"


def test_values_must_be_strings() -> None:
    with pytest.raises(TypeError):
        set_values("a: 1\n", {"a": 2})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        set_kustomize_image("images: []\n", "x")


def test_verification_catches_a_broken_splice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamledit, "_render", lambda value, style, flow: value)  # a bug: never quotes
    with pytest.raises(yamledit.EditVerificationError):
        set_values("a: x\nb: y\n", {"a": "1.20"})
    with pytest.raises(AssertionError):
        set_values("a: x\nb: y\n", {"a": "c: d"})


# --------------------------------------------------------------------------------------------- kustomize


def test_kustomize_entry_already_there_is_unchanged() -> None:
    text = fixture("16-kustomize-set-tag")
    assert set_kustomize_image(text, "ghcr.io/acme/app", new_tag="1.0.0") is text


def test_kustomize_duplicates_and_non_lists_are_refused() -> None:
    with pytest.raises(ReleaseError, match="2 entries named 'a'"):
        set_kustomize_image("images:\n- name: a\n- name: a\n", "a", new_tag="1")
    with pytest.raises(ReleaseError, match="images is not a list"):
        set_kustomize_image("images: {}\n", "a", new_tag="1")
    with pytest.raises(ReleaseError, match="2 documents"):
        set_kustomize_image("a: 1\n---\nb: 2\n", "a", new_tag="1")


def test_kustomize_flow_and_empty_files() -> None:
    assert set_kustomize_image("images: []\n", "a", new_tag="1.0") == 'images: [{name: a, newTag: "1.0"}]\n'
    flow = "images: [{name: a, newTag: x}]\n"
    assert set_kustomize_image(flow, "b", new_tag="v2") == "images: [{name: a, newTag: x}, {name: b, newTag: v2}]\n"
    assert set_kustomize_image(flow, "b", new_tag="y") == 'images: [{name: a, newTag: x}, {name: b, newTag: "y"}]\n'
    assert set_kustomize_image(flow, "a", new_tag="z") == "images: [{name: a, newTag: z}]\n"
    assert set_kustomize_image("", "a", new_tag="1") == 'images:\n- name: a\n  newTag: "1"\n'
    assert set_kustomize_image("resources: []", "a", new_tag="v1") == "resources: []\nimages:\n- name: a\n  newTag: v1"


# --------------------------------------------------------------------------------------------- properties

BASE = """\
# Valeurs de base : chaque style de scalaire au moins une fois.
image:
  repository: ghcr.io/acme/app  # dépôt
  plain: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}
  single: '1.0.0'
  double: "1.0.0"
  empty:
  password: <path:secret/data/x#key | jsonPath {.a}>
flow: {tag: x, other: "${VAR}"}
seq: [a, b]
list:
  - one
  - two
"""
PATHS = ["image.plain", "image.single", "image.double", "image.empty", "flow.tag", "seq[1]", "list.0"]
TRICKY = st.text(alphabet=st.sampled_from(list(" :#-?[]{},'\"\\\t\n\r&*!|>%@`~.019eExXoO+_yYnN\x85\u2028\ufeff\0é<$=")))
SCALARS = st.one_of(
    TRICKY,
    st.text(),
    st.sampled_from(["123456", "1.20", "1e3", "true", "null", "0x1F", "~", "", " x", "x ", "a: b", "a #b", "- x"]),
)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def with_value(data: Any, segments: tuple[str | int, ...], value: str) -> Any:
    node = data
    for seg in segments[:-1]:
        node = node[int(seg)] if isinstance(node, list) else node[seg]
    last = segments[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@FAST
@given(value=SCALARS, path=st.sampled_from(PATHS))
def test_set_then_get_round_trips_and_nothing_else_changes(value: str, path: str) -> None:
    out = set_values(BASE, {path: value})
    assert get_value(out, path) == value
    assert yaml.safe_load(out) == with_value(yaml.safe_load(BASE), parse_path(path), value)
    old_lines, new_lines = BASE.split("\n"), out.split("\n")  # not splitlines: \x85 and \u2028 are no breaks here
    assert len(old_lines) == len(new_lines)
    assert sum(a != b for a, b in zip(old_lines, new_lines, strict=True)) <= 1


@FAST
@given(key=st.text(min_size=1, max_size=30), value=SCALARS, flow=st.booleans())
def test_created_keys_round_trip(key: str, value: str, flow: bool) -> None:
    parent = "flow" if flow else "image"
    if key in yaml.safe_load(BASE)[parent]:
        return
    quoted = '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
    out = set_values(BASE, {f"{parent}.{quoted}": value}, create=True)
    assert get_value(out, f"{parent}.{quoted}") == value
    expected = yaml.safe_load(BASE)
    expected[parent][key] = value
    assert yaml.safe_load(out) == expected


@FAST
@given(tag=SCALARS, indented=st.booleans())
def test_kustomize_tags_stay_strings(tag: str, indented: bool) -> None:
    text = fixture("16-kustomize-indented-new-entry" if indented else "16-kustomize-set-tag")
    for name in ("ghcr.io/acme/app", "ghcr.io/acme/new"):
        out = set_kustomize_image(text, name, new_tag=tag)
        entries = [e for e in yaml.safe_load(out)["images"] if e["name"] == name]
        assert len(entries) == 1 and entries[0]["newTag"] == tag


# --------------------------------------------------------------------------------------------- deletions (rollback)


def test_delete_removes_only_the_key_lines_and_keeps_comments() -> None:
    text = "# tête\nimage:\n  # le tag\n  tag: 1.0.0  # épinglé\n  digest: sha256:ab\n  # fin\nnext: 1\n"
    assert (
        yamledit.delete_value(text, "image.digest")
        == "# tête\nimage:\n  # le tag\n  tag: 1.0.0  # épinglé\n  # fin\nnext: 1\n"
    )
    assert yamledit.delete_value(text, "image") == "# tête\n  # fin\nnext: 1\n"
    assert yamledit.delete_value(text, "image.nope") == text  # absent: unchanged
    assert yamledit.delete_value(text, "nope.deeper") == text


def test_delete_round_trips_a_created_key_byte_for_byte() -> None:
    for text in ("a: 1\r\nb:\r\n  c: 2\r\n", "a: 1\nb:\n  c: 2", "a: 1\nb: {c: 2}\n", "a: 1\nb: {}\n", "a: 1\nb:\n"):
        for path in ("b.new", "b.x.y", "z.y"):
            created = set_values(text, {path: "v"}, create=True)
            point = yamledit.missing_prefix(text, path)
            assert point is not None
            assert yamledit.delete_value(created, point, only=[path]) == text, (text, path)


def test_missing_prefix_names_where_the_path_starts_to_be_missing() -> None:
    text = "image:\n  tag: 1\nempty:\n"
    assert yamledit.missing_prefix(text, "image.tag") is None
    assert yamledit.missing_prefix(text, "empty") is None  # null is there
    assert yamledit.missing_prefix(text, "image.digest") == "image.digest"
    assert yamledit.missing_prefix(text, "app.image.tag") == "app"
    assert yamledit.missing_prefix("", "a.b") == "a"


@pytest.mark.parametrize(
    ("text", "path", "options", "needle"),
    [
        ("a: &x {t: 1}\nb: *x\nc: 2\n", "a", {}, "anchor"),
        ("a: &x 1\nb: *x\nc: 2\n", "a", {}, "&x"),
        ("d: &d {t: 1}\na:\n  <<: *d\n  u: 2\n", "a.t", {}, "alias"),
        ("a:\n  - t: 1\n    u: 2\n", "a[0].t", {}, "shares its line"),
        ("a: [1, 2]\n", "a[0]", {}, "list item"),
        ("only: 1\n", "only", {}, "only key of the document"),
        ("image:\n  tag: 1\n  mine: 2\nx: 1\n", "image", {"only": ["image.tag"]}, "also holds image.mine"),
    ],
    ids=["anchor-inside", "anchored-value", "through-merge", "dash-line", "list-item", "root-only-key", "only"],
)
def test_deletions_that_cannot_be_clean_are_refused_in_one_line(
    text: str, path: str, options: Any, needle: str
) -> None:
    with pytest.raises(ReleaseError) as err:
        yamledit.delete_value(text, path, **options)
    assert needle in err.value.line() and len(err.value.line().splitlines()) == 1


def test_delete_kustomize_image_entry_block_and_flow() -> None:
    block = "resources:\n- a.yaml\nimages:\n- name: redis\n  newTag: '7'\n- name: app  # the app\n  newTag: 1.0.0\n"
    assert (
        yamledit.delete_kustomize_image(block, "app") == "resources:\n- a.yaml\nimages:\n- name: redis\n  newTag: '7'\n"
    )
    assert yamledit.delete_kustomize_image(block, "nope") == block
    only = "images:\n  - name: app\n    newTag: 1.0.0\nresources: []\n"
    assert yamledit.delete_kustomize_image(only, "app") == "images:\nresources: []\n"  # as before an entry was added
    flow = "images: [{name: a, newTag: x}, {name: b, newTag: y}]\n"
    assert yamledit.delete_kustomize_image(flow, "a") == "images: [{name: b, newTag: y}]\n"
    assert yamledit.delete_kustomize_image(flow, "b") == "images: [{name: a, newTag: x}]\n"
    entry = "images:\n- name: app\n  newTag: 1.0.0\n  digest: sha256:ab\n"
    assert yamledit.delete_kustomize_image(entry, "app", fields=["digest"]) == "images:\n- name: app\n  newTag: 1.0.0\n"
    for text in ("resources: []\n", "images: []\n", "images:\n", "images:\n- name: redis\n"):
        added = set_kustomize_image(text, "app", new_tag="2.0.0")
        gone = yamledit.delete_kustomize_image(added, "app")
        if "images" not in text:
            gone = yamledit.delete_value(added, "images")
        assert gone == text, text
