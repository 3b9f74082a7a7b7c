"""The engine connection as Docker and Podman users configure it, against Podman's API on loopback.

TLS is real: Podman's socket behind a TLS front on 127.0.0.1 (tests/tlsproxy.py) that requires and verifies a client
certificate, all made by trustme, with the client files where GitLab's docker:dind puts them (<certdir>/client:
ca.pem, cert.pem, key.pem). `release build --push` goes through it; the registry's own API is the check.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import certifi
import pytest
import trustme

from release.adapters.engine import candidates, connect
from release.adapters.enginehost import resolve
from release.errors import ReleaseError
from tests.conftest import assert_one_line_error
from tests.images.test_publish import app_repo, manifest, state, tags_of
from tests.services import Registry, free_port
from tests.tlsproxy import PlainProxy, TLSProxy, engine_certs

ENGINE_VARS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_TLS", "DOCKER_CERT_PATH", "DOCKER_TLS_CERTDIR")
ENGINE_VARS += ("DOCKER_CONTEXT", "DOCKER_CONFIG", "CONTAINER_HOST", "CONTAINER_SSHKEY")


@pytest.fixture(autouse=True)
def no_engine_settings(monkeypatch):
    """The developer's own engine settings never leak into a test."""
    for name in ENGINE_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def dind(tmp_path_factory, podman):
    """A TLS engine like GitLab's docker:dind: certdir with client/{ca,cert,key}.pem; a client cert is required."""
    root = tmp_path_factory.mktemp("dind-certs")
    certs = engine_certs(root)
    proxy = TLSProxy.start_tls(podman.socket_path, certs.server)
    yield proxy, certs, root
    proxy.stop()


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    """Client files issued by another CA: what a job sees when it mounts the wrong certs."""
    return engine_certs(tmp_path_factory.mktemp("other-certs")).client_dir


@pytest.fixture(scope="module")
def plain_port(podman):
    proxy = PlainProxy.start(podman.socket_path)
    yield proxy
    proxy.stop()


def creds(registry) -> dict[str, str]:
    return {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}


def tls_env(proxy, cert_path: Path | str) -> dict[str, str]:
    return {
        "DOCKER_HOST": f"tcp://{proxy.address}",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": str(cert_path),
    }


def assert_pushed(registry, repo, repository: str) -> None:
    assert {"1", "1.0", "1.0.1"} <= set(tags_of(registry, repository))
    digest = manifest(registry, repository, "1.0.1").headers["Docker-Content-Digest"]
    assert digest in json.dumps(state(repo))


def assert_no_secret(text: str, *keys: Path) -> None:
    assert "PRIVATE KEY" not in text
    for key in keys:
        body = key.read_text().splitlines()[1]
        assert body not in text


# ------------------------------------------------------------------------------------------------ user side: TLS


def test_build_and_push_through_a_tls_engine_with_client_certificates(repo, release, registry, dind):
    proxy, certs, _ = dind
    repository = app_repo(repo, registry, "engine-tls")
    served = proxy.served
    # a job that trusts a corporate bundle through REQUESTS_CA_BUNDLE: the engine's own ca.pem still decides
    env = {**tls_env(proxy, certs.client_dir), "REQUESTS_CA_BUNDLE": certifi.where(), **creds(registry)}
    result = release(repo, "build", "--push", env=env)
    assert result.code == 0, result.err
    assert_pushed(registry, repo, repository)
    assert proxy.served > served  # the build and the push went through the TLS front, not the socket


def test_gitlab_dind_certdir_alone_finds_the_client_files(repo, release, registry, dind):
    proxy, _, certdir = dind
    repository = app_repo(repo, registry, "engine-certdir")
    # GitLab's docs set DOCKER_TLS_CERTDIR=/certs; the client half is in /certs/client
    env = {"DOCKER_HOST": f"tcp://{proxy.address}", "DOCKER_TLS_VERIFY": "1", "DOCKER_TLS_CERTDIR": str(certdir)}
    result = release(repo, "build", "--push", env={**env, **creds(registry)})
    assert result.code == 0, result.err
    assert_pushed(registry, repo, repository)


def test_wrong_ca_fails_in_one_line_and_pushes_nothing(repo, release, registry, dind, other_ca, tmp_path):
    proxy, certs, _ = dind
    repository = app_repo(repo, registry, "engine-wrong-ca")
    mixed = tmp_path / "client"
    mixed.mkdir()
    (mixed / "ca.pem").write_bytes((other_ca / "ca.pem").read_bytes())
    for name in ("cert.pem", "key.pem"):
        (mixed / name).write_bytes((certs.client_dir / name).read_bytes())
    result = release(repo, "build", "--push", env={**tls_env(proxy, mixed), **creds(registry)})
    assert_one_line_error(
        result,
        f"DOCKER_HOST=tcp://{proxy.address} with TLS (DOCKER_CERT_PATH={mixed})",
        "TLS certificate verify failed",
        f"not signed by the CA in {mixed / 'ca.pem'}",
    )
    assert_no_secret(result.err, mixed / "key.pem")
    assert tags_of(registry, repository) == []


def test_a_client_certificate_from_another_ca_is_rejected(repo, release, registry, dind, other_ca, tmp_path):
    proxy, certs, _ = dind
    repository = app_repo(repo, registry, "engine-bad-client")
    mixed = tmp_path / "client"
    mixed.mkdir()
    (mixed / "ca.pem").write_bytes((certs.client_dir / "ca.pem").read_bytes())
    for name in ("cert.pem", "key.pem"):
        (mixed / name).write_bytes((other_ca / name).read_bytes())
    result = release(repo, "build", "--push", env={**tls_env(proxy, mixed), **creds(registry)})
    assert_one_line_error(result, f"client certificate {mixed / 'cert.pem'} rejected by the engine")
    assert_no_secret(result.err, mixed / "key.pem")
    assert tags_of(registry, repository) == []


def test_no_client_certificate_where_the_engine_requires_one(repo, release, registry, dind, tmp_path):
    proxy, certs, _ = dind
    app_repo(repo, registry, "engine-no-client")
    only_ca = tmp_path / "client"
    only_ca.mkdir()
    (only_ca / "ca.pem").write_bytes((certs.client_dir / "ca.pem").read_bytes())
    result = release(repo, "build", "--push", env={**tls_env(proxy, only_ca), **creds(registry)})
    assert_one_line_error(result, "the engine requires a client certificate and none was given")


def test_a_missing_cert_dir_names_the_variable(repo, release, registry, dind, tmp_path):
    proxy, _, _ = dind
    app_repo(repo, registry, "engine-no-certdir")
    missing = tmp_path / "certs" / "client"
    result = release(repo, "build", "--push", env={**tls_env(proxy, missing), **creds(registry)})
    assert_one_line_error(result, f"DOCKER_CERT_PATH={missing}: no such directory")
    env = {"DOCKER_HOST": f"tcp://{proxy.address}", "DOCKER_TLS_VERIFY": "1", "DOCKER_TLS_CERTDIR": str(tmp_path)}
    result = release(repo, "build", "--push", env={**env, **creds(registry)})
    assert_one_line_error(result, f"DOCKER_TLS_CERTDIR={tmp_path}, so {tmp_path / 'client'}: no such directory")


def test_a_missing_key_file_is_named(repo, release, registry, dind, tmp_path):
    proxy, certs, _ = dind
    app_repo(repo, registry, "engine-no-key")
    partial = tmp_path / "client"
    partial.mkdir()
    for name in ("ca.pem", "cert.pem"):
        (partial / name).write_bytes((certs.client_dir / name).read_bytes())
    result = release(repo, "build", "--push", env={**tls_env(proxy, partial), **creds(registry)})
    assert_one_line_error(result, f"{partial / 'key.pem'} is missing")


def test_plain_http_to_the_tls_port(repo, release, registry, dind):
    proxy, _, _ = dind
    repository = app_repo(repo, registry, "engine-plain-to-tls")
    result = release(repo, "build", "--push", env={"DOCKER_HOST": f"tcp://{proxy.address}", **creds(registry)})
    assert_one_line_error(result, f"DOCKER_HOST=tcp://{proxy.address}", "plain HTTP spoken to a port that speaks TLS")
    assert "DOCKER_TLS_VERIFY=1" in result.err  # the hint says what to set
    assert tags_of(registry, repository) == []


def test_tls_to_a_plain_port(repo, release, registry, dind, plain_port):
    _, certs, _ = dind
    app_repo(repo, registry, "engine-tls-to-plain")
    result = release(repo, "build", "--push", env={**tls_env(plain_port, certs.client_dir), **creds(registry)})
    assert_one_line_error(result, "TLS spoken to a port that does not speak TLS")


def test_refused_and_unknown_host_say_so(repo, release, registry, plain_port):
    app_repo(repo, registry, "engine-refused")
    address = f"127.0.0.1:{free_port()}"
    result = release(repo, "build", "--push", env={"DOCKER_HOST": f"tcp://{address}", **creds(registry)})
    assert_one_line_error(result, f"DOCKER_HOST=tcp://{address}", f"connection refused by {address}")
    result = release(repo, "build", "--push", env={"DOCKER_HOST": "tcp://docker.invalid:2375", **creds(registry)})
    assert_one_line_error(result, "DOCKER_HOST=tcp://docker.invalid:2375", "DNS name docker.invalid not found")


# ------------------------------------------------------------------------------------- user side: Podman, contexts


def test_podman_container_host(repo, release, registry, podman):
    repository = app_repo(repo, registry, "engine-container-host")
    result = release(repo, "build", "--push", env={"CONTAINER_HOST": podman.base_url, **creds(registry)})
    assert result.code == 0, result.err
    assert_pushed(registry, repo, repository)


def write_context(config: Path, name: str, host: str, current: bool = True) -> None:
    """What `docker context create NAME --docker host=HOST` and `docker context use NAME` write."""
    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    body = {"Name": name, "Metadata": {}, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}}
    (meta / "meta.json").write_text(json.dumps(body))
    if current:
        (config / "config.json").write_text(json.dumps({"auths": {}, "currentContext": name}))


def test_docker_context_in_use(repo, release, registry, podman, tmp_path):
    repository = app_repo(repo, registry, "engine-context")
    write_context(tmp_path / "docker", "podman", podman.base_url)
    result = release(repo, "build", "--push", env={"DOCKER_CONFIG": str(tmp_path / "docker"), **creds(registry)})
    assert result.code == 0, result.err
    assert_pushed(registry, repo, repository)


def test_a_missing_docker_context_is_named(repo, release, registry, tmp_path):
    app_repo(repo, registry, "engine-no-context")
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "remote", **creds(registry)}
    result = release(repo, "build", "--push", env=env)
    assert_one_line_error(result, "DOCKER_CONTEXT=remote: no docker context 'remote'")


# ---------------------------------------------------------------------------------------- resolution, precedence


def test_docker_host_beats_container_host_and_contexts(tmp_path):
    write_context(tmp_path, "ctx", "unix:///ctx.sock")
    env = {"DOCKER_HOST": "unix:///d.sock", "CONTAINER_HOST": "unix:///c.sock", "DOCKER_CONTEXT": "ctx"}
    env["DOCKER_CONFIG"] = str(tmp_path)
    assert candidates(env) == ["unix:///d.sock"]
    assert candidates({**env, "DOCKER_HOST": ""}) == ["unix:///c.sock"]
    assert candidates({k: v for k, v in env.items() if "HOST" not in k}) == ["unix:///ctx.sock"]


def test_docker_context_env_beats_current_context(tmp_path):
    write_context(tmp_path, "current", "unix:///current.sock")
    write_context(tmp_path, "chosen", "unix:///chosen.sock", current=False)
    assert candidates({"DOCKER_CONFIG": str(tmp_path)}) == ["unix:///current.sock"]
    assert candidates({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "chosen"}) == ["unix:///chosen.sock"]
    assert candidates({"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "default"})[0] == "unix:///var/run/docker.sock"


def test_context_tls_files_are_used(tmp_path):
    write_context(tmp_path, "remote", "tcp://engine.example:2376")
    tls = tmp_path / "contexts" / "tls" / hashlib.sha256(b"remote").hexdigest() / "docker"
    tls.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tls / name).write_text("x")
    (endpoint,) = resolve({"DOCKER_CONFIG": str(tmp_path)})
    assert endpoint.tls is not None
    assert (endpoint.tls.ca, endpoint.tls.cert, endpoint.tls.key) == (tls / "ca.pem", tls / "cert.pem", tls / "key.pem")


def test_port_2376_means_tls_and_2375_plain(tmp_path):
    (client := tmp_path / "client").mkdir()
    (client / "ca.pem").write_text("x")
    (tls,) = resolve({"DOCKER_HOST": "tcp://docker:2376", "DOCKER_TLS_CERTDIR": str(tmp_path)})
    assert tls.tls is not None and tls.tls.ca == client / "ca.pem"
    assert tls.describe() == f"DOCKER_HOST=tcp://docker:2376 with TLS (DOCKER_TLS_CERTDIR={tmp_path}, so {client})"
    (plain,) = resolve({"DOCKER_HOST": "tcp://docker:2375", "DOCKER_TLS_CERTDIR": str(tmp_path)})
    assert plain.tls is None


def test_cert_path_beats_certdir(tmp_path):
    (a := tmp_path / "a").mkdir()
    (a / "ca.pem").write_text("x")
    (endpoint,) = resolve(
        {"DOCKER_HOST": "tcp://docker:2376", "DOCKER_CERT_PATH": str(a), "DOCKER_TLS_CERTDIR": "/nonexistent"}
    )
    assert endpoint.tls is not None and endpoint.tls.ca == a / "ca.pem"


def test_ssh_fails_in_one_clear_line():
    with pytest.raises(ReleaseError) as err:
        connect({"DOCKER_HOST": "ssh://me@engine.example"})
    assert "DOCKER_HOST=ssh://me@engine.example (ssh:// engines are not supported)" in err.value.message
    assert "ssh -fNL" in (err.value.hint or "")


def test_unknown_scheme():
    with pytest.raises(ReleaseError) as err:
        connect({"DOCKER_HOST": "npipe:////./pipe/docker_engine"})
    assert "unsupported scheme 'npipe'" in err.value.message


def test_docker_socket_then_podman_sockets():
    assert candidates({"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/nonexistent"}) == [
        "unix:///var/run/docker.sock",
        "unix:///run/user/1000/podman/podman.sock",
        "unix:///run/podman/podman.sock",
    ]


def test_no_engine_names_everything_tried(tmp_path):
    with pytest.raises(ReleaseError) as err:
        connect({"XDG_RUNTIME_DIR": str(tmp_path), "HOME": str(tmp_path)})
    message = err.value.message
    for place in ("/var/run/docker.sock", f"{tmp_path}/podman/podman.sock", "/run/podman/podman.sock"):
        assert f"no such socket {place}" in message


def test_engine_from_docker_host(podman):
    engine = connect({"DOCKER_HOST": podman.base_url})
    assert engine.url == podman.base_url


def test_podman_ssh_names_the_forward_for_its_socket():
    with pytest.raises(ReleaseError) as err:
        connect({"CONTAINER_HOST": "ssh://core@engine.example:2222/run/user/1000/podman/podman.sock"})
    assert "CONTAINER_HOST=ssh://core@engine.example:2222/run/user/1000/podman/podman.sock" in err.value.message
    assert err.value.hint is not None
    assert "ssh -fNL /tmp/engine.sock:/run/user/1000/podman/podman.sock -p 2222 core@engine.example" in err.value.hint
    assert "CONTAINER_HOST=unix:///tmp/engine.sock" in err.value.hint


def test_a_ca_file_that_is_no_certificate(repo, release, registry, dind, tmp_path):
    proxy, certs, _ = dind
    app_repo(repo, registry, "engine-garbage-ca")
    broken = tmp_path / "client"
    broken.mkdir()
    (broken / "ca.pem").write_text("not a certificate\n")
    for name in ("cert.pem", "key.pem"):
        (broken / name).write_bytes((certs.client_dir / name).read_bytes())
    result = release(repo, "build", "--push", env={**tls_env(proxy, broken), **creds(registry)})
    assert_one_line_error(result, f"the TLS files in DOCKER_CERT_PATH={broken} cannot be used")
    assert_no_secret(result.err, broken / "key.pem")


def test_plain_http_to_a_go_tls_server(tmp_path_factory, tmp_path):
    """Go's TLS servers (dockerd among them) answer plain HTTP with `400 Client sent an HTTP request to an HTTPS
    server` instead of hanging up; CNCF Distribution is one, on loopback here."""
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_pem := tmp_path / "ca.pem"))
    with (
        Registry.start(tmp_path_factory.mktemp("go-tls"), tls=(chain, key), ca=ca_pem) as server,
        pytest.raises(ReleaseError) as err,
    ):
        connect({"DOCKER_HOST": f"tcp://{server.host}"})
    assert f"DOCKER_HOST=tcp://{server.host} (plain HTTP spoken to a port that speaks TLS)" in err.value.message
