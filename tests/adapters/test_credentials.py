import base64
import json
import os
import stat

import pytest

from release import secrets
from release.adapters import credentials
from release.adapters.credentials import for_registry
from release.errors import ReleaseError


def auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_env_wins_over_docker_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.example": {"auth": auth("file", "filepw")}}}))
    env = {"DOCKER_CONFIG": str(tmp_path), "RELEASE_REGISTRY_USER": "ci", "RELEASE_REGISTRY_PASSWORD": "envpw1"}
    creds = for_registry("r.example", env)
    assert (creds.username, creds.password) == ("ci", "envpw1")
    assert "envpw1" not in repr(creds)


def test_docker_auth_config_as_gitlab_sets_it():
    env = {"DOCKER_AUTH_CONFIG": json.dumps({"auths": {"https://r.example": {"auth": auth("gl", "glpw1")}}})}
    creds = for_registry("r.example", env)
    assert (creds.username, creds.password, creds.source) == ("gl", "glpw1", "DOCKER_AUTH_CONFIG")


def test_docker_config_file_and_docker_hub_keys(tmp_path):
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": auth("hub", "hubpw1")},
            "127.0.0.1:5000": {"username": "u", "password": "plainpw"},
        }
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert for_registry("docker.io", env).username == "hub"
    assert for_registry("127.0.0.1:5000", env).password == "plainpw"
    assert for_registry("other.example", env) is None


def test_home_docker_config_is_the_default(tmp_path):
    (tmp_path / ".docker").mkdir()
    (tmp_path / ".docker/config.json").write_text(json.dumps({"auths": {"r.example": {"auth": auth("h", "homepw")}}}))
    assert for_registry("r.example", {"HOME": str(tmp_path)}).username == "h"


def test_credential_helper_gets_the_host_on_stdin(tmp_path):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread host\necho "{\\"Username\\": \\"helper\\", \\"Secret\\": \\"from-$host\\"}"\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"r.example": "fake"}}))
    env = {"DOCKER_CONFIG": str(tmp_path), "PATH": f"{helper.parent}:{os.environ['PATH']}"}
    creds = for_registry("r.example", env)
    assert (creds.username, creds.password) == ("helper", "from-r.example")


def test_missing_helper_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nope"}))
    with pytest.raises(ReleaseError, match="docker-credential-nope"):
        for_registry("r.example", {"DOCKER_CONFIG": str(tmp_path), "PATH": "/nonexistent"})


def test_bad_docker_auth_config_is_a_clear_error():
    with pytest.raises(ReleaseError, match="DOCKER_AUTH_CONFIG is not valid JSON"):
        for_registry("r.example", {"DOCKER_AUTH_CONFIG": "{nope"})


def test_found_passwords_are_masked_in_output():
    for_registry("r.example", {"RELEASE_REGISTRY_USER": "u", "RELEASE_REGISTRY_PASSWORD": "canary-7f3a9"})
    assert secrets.mask("login failed for canary-7f3a9 at r.example") == "login failed for **** at r.example"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"RELEASE_REGISTRY_USER": "ci", "RELEASE_REGISTRY_PASSWORD": ""},
            "RELEASE_REGISTRY_PASSWORD is set but empty",
        ),
        ({"RELEASE_REGISTRY_USER": "ci"}, "RELEASE_REGISTRY_PASSWORD is not set, but RELEASE_REGISTRY_USER is"),
        ({"RELEASE_REGISTRY_USER": "", "RELEASE_REGISTRY_PASSWORD": ""}, "RELEASE_REGISTRY_PASSWORD is set but empty"),
        ({"DOCKER_AUTH_CONFIG": " "}, "DOCKER_AUTH_CONFIG is set but empty"),
        ({}, None),
        ({"RELEASE_REGISTRY_USER": "ci", "RELEASE_REGISTRY_PASSWORD": "pw"}, None),
    ],
)
def test_an_empty_or_half_given_variable_is_named(env, named):
    found = credentials.registry_missing(env)
    if named is None:
        assert found is None
    else:
        assert found is not None and found.startswith(named) and "protected variable" in found
