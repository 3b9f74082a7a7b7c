"""release.yaml: found where users put it, strict about keys and types, every error at file:line with a hint."""

from __future__ import annotations

import pytest

from release.config import Config, from_text, load
from release.errors import ReleaseError
from tests.conftest import assert_one_line_error


def error_of(text: str, filename: str = "release.yaml") -> str:
    with pytest.raises(ReleaseError) as info:
        from_text(text, filename)
    line = info.value.line()
    assert "\n" not in line
    return line


# --- valid files ---------------------------------------------------------------------------------------


def test_full_config_is_read_into_typed_values():
    config = from_text(
        """\
version: 1
versioning:
  tag_format: "release-{version}"
  initial: 1.0.0
  rules:
    - {type: build, bump: patch}
    - {type: feat, scope: internal, bump: none}
  bump_minor_pre_major: true
  prerelease_branches: {develop: beta}
components:
  - name: api
    path: services/api
  - {name: web, path: web, tag_format: "web@{version}"}
notes:
  template: .release/notes.j2
  changelog: docs/CHANGES.md
  forge: gitlab
  url: https://git.example.com/g/p
"""
    )
    assert config.versioning.tag_format == "release-{version}"
    assert config.versioning.initial == "1.0.0"
    assert [(r.type, r.scope, r.bump) for r in config.versioning.rules] == [
        ("build", None, "patch"),
        ("feat", "internal", "none"),
    ]
    assert config.versioning.bump_minor_pre_major is True
    assert config.versioning.prerelease_branches == {"develop": "beta"}
    assert [(c.name, c.path, c.tag_format) for c in config.components] == [
        ("api", "services/api", "{component}-v{version}"),
        ("web", "web", "web@{version}"),
    ]
    assert config.notes.template == ".release/notes.j2"
    assert config.changelog_path == "docs/CHANGES.md"
    assert config.notes.forge == "gitlab"


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "---\n"])
def test_empty_file_means_defaults(text):
    config = from_text(text)
    assert config.versioning == Config().versioning
    assert config.notes == Config().notes
    assert config.components == ()


def test_section_with_everything_commented_out_means_defaults():
    config = from_text("versioning:\n  # initial: 1.0.0\nnotes:\ncomponents:\n")
    assert config.versioning == Config().versioning
    assert config.notes == Config().notes
    assert config.components == ()


def test_changelog_true_and_false():
    assert from_text("notes: {changelog: true}\n").changelog_path == "CHANGELOG.md"
    assert from_text("notes: {changelog: false}\n").changelog_path is None
    assert Config().changelog_path == "CHANGELOG.md"


# --- errors at file:line ----------------------------------------------------------------------------------


def test_unknown_key_names_file_line_key_and_suggests():
    line = error_of("version: 1\nversioning:\n  initial: 1.0.0\n  tag_fromat: v{version}\n", "conf/release.yaml")
    assert line.startswith("conf/release.yaml:4: ")
    assert "'versioning.tag_fromat'" in line
    assert "did you mean 'tag_format'?" in line


def test_unknown_top_level_key_suggests():
    line = error_of("version: 1\nnotse: {}\n")
    assert line.startswith("release.yaml:2: ") and "'notse'" in line and "did you mean 'notes'?" in line


def test_unknown_key_with_no_close_match_lists_the_known_keys():
    line = error_of("notes:\n  zzzzzz: 1\n")
    assert line.startswith("release.yaml:2: ") and "changelog" in line and "template" in line


def test_initial_as_a_float_says_to_quote_it():
    line = error_of("versioning:\n  initial: 1.0\n")
    assert line.startswith("release.yaml:2: ")
    assert "versioning.initial" in line and "float" in line and '"1.0"' in line


def test_rules_not_a_list():
    line = error_of("versioning:\n  tag_format: v{version}\n  rules: 3\n")
    assert line.startswith("release.yaml:3: ") and "versioning.rules" in line and "list" in line


def test_unquoted_flow_mapping_tag_format():
    line = error_of("versioning:\n\n  tag_format: {version}\n")
    assert line.startswith("release.yaml:3: ") and "versioning.tag_format" in line and "double quotes" in line


def test_invalid_semver_initial():
    for value in ('"1.0"', "v1.0.0", '"01.0.0"'):
        line = error_of(f"versioning:\n  initial: {value}\n")
        assert line.startswith("release.yaml:2: ") and "not a semantic version" in line


def test_tag_format_without_version():
    line = error_of('versioning:\n  tag_format: "v{major}"\n')
    assert line.startswith("release.yaml:2: ") and "{version}" in line
    line = error_of('components:\n  - name: api\n    path: api\n    tag_format: "api"\n')
    assert line.startswith("release.yaml:4: ") and "{version}" in line


def test_component_placeholder_outside_components():
    line = error_of('versioning:\n  tag_format: "{component}-v{version}"\n')
    assert line.startswith("release.yaml:2: ") and "{component}" in line


def test_duplicate_component_names():
    line = error_of("components:\n  - {name: api, path: a}\n  - {name: api, path: b}\n")
    assert line.startswith("release.yaml:2: ") and "'api'" in line and "twice" in line


def test_duplicate_keys():
    line = error_of("notes: {}\nversion: 1\nnotes: {}\n")
    assert line.startswith("release.yaml:3: ") and "'notes'" in line


def test_missing_required_key():
    line = error_of("components:\n  - path: services/api\n")
    assert line.startswith("release.yaml:2: ") and "'name'" in line


@pytest.mark.parametrize(
    ("text", "line_no"),
    [
        ("versioning:\n  initial: 1.0.0\n   tag_format: x\n", 3),
        ("notes:\n\tforge: none\n", 2),
        ("versioning: {initial: 1.0.0\n", 2),
        ("a: 1\n---\nb: 2\n", 2),
    ],
    ids=["indent", "tab", "unclosed-flow", "two-documents"],
)
def test_invalid_yaml_names_the_line(text, line_no):
    line = error_of(text)
    assert line.startswith(f"release.yaml:{line_no}: not valid YAML")


@pytest.mark.parametrize(
    ("text", "where", "allowed"),
    [
        (
            "versioning:\n  rules:\n    - {type: feat, bump: huge}\n",
            "versioning.rules[0].bump",
            "major | minor | patch",
        ),
        ("notes:\n  forge: gitea\n", "notes.forge", "gitlab | github | none"),
        ("version: 2\n", "version", "1"),
    ],
)
def test_literal_choices(text, where, allowed):
    line = error_of(text)
    assert f"'{where}'" in line and allowed in line
    assert line.startswith(f"release.yaml:{text.count(chr(10))}: ")


def test_wrong_scalar_types():
    assert "true or false" in error_of("versioning:\n  bump_minor_pre_major: 'yes'\n")
    assert error_of("notes:\n  changelog: 3\n").startswith("release.yaml:2: ")
    assert error_of("- a\n- b\n").startswith("release.yaml:1: ")
    assert "must be a string" in error_of("versioning:\n  prerelease_branches: {next: 1}\n")


# --- finding the file, through the CLI ---------------------------------------------------------------------


def test_no_config_file_works(repo, release):
    repo.commit("feat: first")
    result = release(repo, "version")
    assert result.code == 0, result.err
    assert result.out == "0.1.0\n"


@pytest.mark.parametrize("name", ["release.yaml", "release.yml", ".release.yaml", ".release.yml"])
def test_config_file_names_are_found(repo, release, name):
    repo.write(name, "versioning:\n  initial: 3.0.0\n")
    repo.commit("feat: first")
    result = release(repo, "version")
    assert result.code == 0, result.err
    assert result.out == "3.0.0\n"


def test_config_found_from_a_subdirectory(repo, release):
    repo.write("release.yaml", "versioning:\n  initial: 3.0.0\n")
    repo.commit("feat: first")
    sub = repo.path / "src" / "deep"
    sub.mkdir(parents=True)
    result = release(sub, "version")
    assert result.code == 0, result.err
    assert result.out == "3.0.0\n"


def test_explicit_config_option(repo, release, tmp_path):
    repo.write("release.yaml", "versioning:\n  initial: 3.0.0\n")
    other = tmp_path / "other.yaml"
    other.write_text("versioning:\n  initial: 7.0.0\n")
    repo.commit("feat: first")
    result = release(repo, "version", "--config", str(other))
    assert result.code == 0, result.err
    assert result.out == "7.0.0\n"


def test_missing_explicit_config_is_an_error(repo, release):
    repo.commit("feat: first")
    assert_one_line_error(release(repo, "version", "--config", "nope.yaml"), "nope.yaml")


def test_cli_error_for_a_bad_config_names_file_and_line(repo, release):
    repo.write("release.yml", "version: 1\nversioning:\n  tag_fromat: v{version}\n")
    repo.commit("feat: first")
    result = release(repo, "plan")
    assert_one_line_error(result, "release.yml:3:", "tag_fromat", "did you mean 'tag_format'?")


def test_cli_error_for_invalid_yaml(repo, release):
    repo.write(".release.yaml", "notes:\n  forge: [github\n")
    repo.commit("feat: first")
    assert_one_line_error(release(repo, "notes"), ".release.yaml:", "not valid YAML")


def test_config_not_utf8(repo, release, tmp_path):
    (repo.path / "release.yaml").write_bytes("# café\n".encode("latin-1"))
    repo.commit("feat: first")
    assert_one_line_error(release(repo, "plan"), "release.yaml", "UTF-8")


def test_load_without_a_file_returns_defaults(tmp_path):
    assert load(tmp_path) == Config()


@pytest.mark.parametrize(
    "target", ["git+ssh://git@github.com/team/charts.git#gh-pages", "git+git@github.com:team/charts.git#gh-pages"]
)
def test_ssh_git_chart_targets_are_allowed(target):
    config = from_text(f'charts:\n  - path: charts/app\n    publish: ["{target}"]\n')
    assert config.charts[0].publish == (target,)


@pytest.mark.parametrize(
    "target", ["oci://user:s3cret@r.example/charts", "git+https://user:s3cret@github.com/o/r.git#gh-pages"]
)
def test_passwords_in_chart_targets_are_refused(target):
    with pytest.raises(ReleaseError) as err:
        from_text(f'charts:\n  - path: charts/app\n    publish: ["{target}"]\n')
    assert "carries credentials" in err.value.message


def test_environment_url_and_image_build_settings():
    config = from_text(
        "images:\n  - {name: app, repository: r.example.com/app, build: elsewhere, wait: 30}\n"
        "environments:\n  - name: dev\n    repo: https://git.example.com/infra.git\n"
        "    url: https://dev.example.com\n    updates: [{file: v.yaml, set: {a: b}}]\n"
    )
    assert (config.images[0].build, config.images[0].wait) == ("elsewhere", 30)
    assert config.environments[0].url == "https://dev.example.com"
    assert from_text("images: [{name: app, repository: r.example.com/app}]\n").images[0].wait == 600


def test_environment_url_must_be_http():
    message = error_of(
        "environments:\n  - name: dev\n    repo: https://git.example.com/infra.git\n    url: dev.example.com\n"
        "    updates: [{file: v.yaml, set: {a: b}}]\n"
    )
    assert message.startswith("release.yaml:4: 'environments[0].url': url 'dev.example.com' is not an http(s) URL")
