import pytest
import semver

from release.errors import ReleaseError
from release.naming.imageref import DEFAULT_TAGS, ReleaseFacts, Repository, check_template, render, render_tags, slug

SHA = "0123456789abcdef0123456789abcdef01234567"


def facts(version: str, branch: str | None = "main") -> ReleaseFacts:
    return ReleaseFacts(semver.Version.parse(version), SHA, branch)


def test_default_tags_follow_metadata_action():
    assert render_tags(DEFAULT_TAGS, facts("1.3.2")) == ["1.3.2", "1.3", "1", "sha-0123456"]


def test_prerelease_moves_no_floating_tag_and_not_latest():
    tags = render_tags((*DEFAULT_TAGS, "latest", "{major}.{minor}.{patch}-{prerelease}"), facts("2.0.0-rc.1"))
    assert "2" not in tags and "2.0" not in tags and "latest" not in tags
    assert tags == ["2.0.0-rc.1", "sha-0123456"]  # the explicit prerelease template renders the same tag: deduped


def test_latest_only_when_asked():
    assert "latest" not in render_tags(DEFAULT_TAGS, facts("1.0.0"))
    assert render_tags(("{version}", "latest"), facts("1.0.0")) == ["1.0.0", "latest"]


def test_branch_is_slugged_and_fields_render():
    assert render_tags(("{branch}-{short_sha}",), facts("1.0.0", "feature/Login UI")) == ["feature-Login-UI-0123456"]
    assert render("v{version}+{sha}", facts("1.0.0")) == f"v1.0.0+{SHA}"
    assert slug("") == "detached"


@pytest.mark.parametrize("template", ["{foo}", "{version", "{}"])
def test_bad_templates_are_named(template):
    assert check_template(template) is not None
    with pytest.raises(ReleaseError) as err:
        render_tags((template,), facts("1.0.0"))
    assert template in err.value.message


def test_a_tag_that_is_not_a_valid_docker_tag_is_refused():
    with pytest.raises(ReleaseError, match="not a valid image tag"):
        render_tags((".{version}",), facts("1.0.0"))


@pytest.mark.parametrize(
    ("text", "host", "path"),
    [
        ("registry.example.com/team/app", "registry.example.com", "team/app"),
        ("127.0.0.1:5000/demo/app", "127.0.0.1:5000", "demo/app"),
        ("localhost/app", "localhost", "app"),
        ("team/app", "docker.io", "team/app"),
        ("nginx", "docker.io", "library/nginx"),
    ],
)
def test_repository_parsing(text, host, path):
    repo = Repository.parse(text)
    assert (repo.host, repo.path) == (host, path)


@pytest.mark.parametrize("text", ["", "team/App", "team/app:1.0", "team/app@sha256:ab", " team/app"])
def test_repository_refuses_tags_digests_and_uppercase(text):
    with pytest.raises(ReleaseError):
        Repository.parse(text)
