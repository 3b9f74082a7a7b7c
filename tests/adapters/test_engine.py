import pytest

from release.adapters.engine import candidates, connect
from release.errors import ReleaseError


def test_docker_host_wins():
    assert candidates({"DOCKER_HOST": "tcp://127.0.0.1:2375", "XDG_RUNTIME_DIR": "/run/user/1"}) == [
        "tcp://127.0.0.1:2375"
    ]


def test_docker_socket_then_podman_sockets():
    assert candidates({"XDG_RUNTIME_DIR": "/run/user/1000"}) == [
        "unix:///var/run/docker.sock",
        "unix:///run/user/1000/podman/podman.sock",
        "unix:///run/podman/podman.sock",
    ]


def test_no_engine_names_everything_tried(tmp_path):
    with pytest.raises(ReleaseError) as err:
        connect({"XDG_RUNTIME_DIR": str(tmp_path)})
    message = err.value.message
    for place in ("/var/run/docker.sock", f"{tmp_path}/podman/podman.sock", "/run/podman/podman.sock"):
        assert place in message


def test_engine_from_docker_host(podman):
    engine = connect({"DOCKER_HOST": podman.base_url})
    assert engine.url == podman.base_url
