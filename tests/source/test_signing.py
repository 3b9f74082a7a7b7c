"""Keyless signing (`--sign`, `signing: sigstore`) with sigstore-python against the Sigstore project's own mocks
(npm @sigstore/mock on loopback), each bundle pushed as a referrer in cosign v3's layout and verified by npm
@sigstore/verify (sigstore-js), never by our own code. The registry is the loopback CNCF one (fallback tag)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.charts.test_publish import chart_repo
from tests.conftest import assert_one_line_error
from tests.images.conftest import engine_env as engine_env
from tests.images.test_attest import app, digest_of, document, referrers
from tests.images.test_attest import authfile as authfile
from tests.sigstoremock import SigstoreMock, identity_token

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SUBJECT = "project_path:team/app:ref_type:branch:ref:main"
ISSUER = "https://gitlab.example.com"


@pytest.fixture(scope="module")
def sigstore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigstoreMock]:
    with SigstoreMock.start(tmp_path_factory.mktemp("sigstore")) as mock:
        yield mock


@pytest.fixture
def sign_env(sigstore: SigstoreMock) -> dict[str, str]:
    return {
        "SIGSTORE_ID_TOKEN": identity_token(SUBJECT, ISSUER),
        "RELEASE_SIGSTORE_TRUST_CONFIG": str(sigstore.trust_config),
    }


def bundles(registry, authfile: Path, repository: str, subject: str) -> dict[str, tuple[dict, bytes]]:
    """predicate type → (fallback index entry, bundle bytes) of every Sigstore bundle attached to `subject`."""
    found = {}
    for entry in referrers(authfile, repository, subject):
        if entry["artifactType"] == BUNDLE:
            notes = entry["annotations"]
            assert notes["dev.sigstore.bundle.content"] == "dsse-envelope"
            found[notes["dev.sigstore.bundle.predicateType"]] = (
                entry,
                document(registry, authfile, repository, entry, subject),
            )
    return found


def test_signed_image_and_provenance_verify_with_sigstore_js(
    repo,
    release,
    registry,
    engine_env,
    authfile,
    sigstore,
    sign_env,
):
    repository = app(repo, registry.host, "sign-image", "    provenance: true\n", "linux/amd64, linux/arm64")
    result = release(repo, "build", "--push", "--sign", env={**engine_env, **sign_env})
    assert result.code == 0, result.err
    digest = digest_of(registry, repository, "1.0.1")
    signed = bundles(registry, authfile, repository, digest)
    assert sorted(signed) == ["https://sigstore.dev/cosign/sign/v1", "https://slsa.dev/provenance/v1"]
    _, image_bundle = signed["https://sigstore.dev/cosign/sign/v1"]
    verified = sigstore.verify(image_bundle, SUBJECT, ISSUER)
    assert verified["payloadType"] == "application/vnd.in-toto+json"
    assert verified["payload"]["subject"] == [{"name": repository, "digest": {"sha256": digest.split(":")[1]}}]
    _, provenance_bundle = signed["https://slsa.dev/provenance/v1"]
    statement = sigstore.verify(provenance_bundle, SUBJECT, ISSUER)["payload"]
    (attached,) = [
        e for e in referrers(authfile, repository, digest) if e["artifactType"] == "application/vnd.in-toto+json"
    ]
    assert statement == json.loads(document(registry, authfile, repository, attached, digest))
    assert (
        statement["predicate"]["buildDefinition"]["externalParameters"]["source"]["digest"]["gitCommit"] == repo.head()
    )
    with pytest.raises(AssertionError, match="refused"):  # the verifier checks the identity: another one fails
        sigstore.verify(image_bundle, "project_path:other/app:ref_type:branch:ref:main", ISSUER)
    recorded = json.loads((repo.path / ".release/state.json").read_text())["images"][0]["attached"]
    assert sorted(a["predicate"] for a in recorded if a["kind"] == "signature") == sorted(signed)
    again = release(repo, "build", "--push", "--sign", env={**engine_env, **sign_env})
    assert again.code == 0, again.err
    assert again.err.count("found the signature") == 2
    assert bundles(registry, authfile, repository, digest) == signed


def test_signing_sigstore_signs_oci_charts(repo, release, registry, authfile, sigstore, sign_env):
    chart_repo(repo, registry, name="sign-chart")
    repo.write("release.yaml", (repo.path / "release.yaml").read_text() + "signing: sigstore\n")
    repo.git("commit", "-qam", "chore: sign")
    env = {"RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password, **sign_env}
    result = release(repo, "chart", "--publish", env=env)
    assert result.code == 0, result.err
    digest = registry.manifest("charts/sign-chart", "1.0.1").headers["Docker-Content-Digest"]
    signed = bundles(registry, authfile, f"{registry.host}/charts/sign-chart", digest)
    ((_, bundle),) = signed.values()
    payload = sigstore.verify(bundle, SUBJECT, ISSUER)["payload"]
    assert payload["subject"][0]["digest"] == {"sha256": digest.split(":")[1]}


def test_no_oidc_token_fails_before_anything_is_pushed(repo, release, registry, engine_env, sigstore):
    repository = app(repo, registry.host, "sign-notoken", "")
    env = {**engine_env, "CI": "true", "GITLAB_CI": "true", "RELEASE_SIGSTORE_TRUST_CONFIG": str(sigstore.trust_config)}
    result = release(repo, "build", "--push", "--sign", env=env)
    assert_one_line_error(result, "signing needs an OIDC identity token", "id_tokens")
    assert registry.get(f"/v2/{repository.split('/', 1)[1]}/tags/list").status_code == 404


def test_a_signature_that_does_not_verify_attaches_nothing(
    repo,
    release,
    registry,
    engine_env,
    authfile,
    sigstore,
    sign_env,
    tmp_path,
):
    # a trusted root whose Rekor key is not the one that signs the log entries
    config = json.loads(sigstore.trust_config.read_text())
    tlog = config["trustedRoot"]["tlogs"][0]
    ctlog = config["trustedRoot"]["ctlogs"][0]
    tlog["publicKey"] = ctlog["publicKey"]
    wrong = tmp_path / "wrong-trust.json"
    wrong.write_text(json.dumps(config))
    repository = app(repo, registry.host, "sign-bad", "")
    result = release(
        repo, "build", "--push", "--sign", env={**engine_env, **sign_env, "RELEASE_SIGSTORE_TRUST_CONFIG": str(wrong)}
    )
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error: the signature Sigstore returned does not verify"), last
    digest = digest_of(registry, repository, "1.0.1")
    assert bundles(registry, authfile, repository, digest) == {}
    rerun = release(repo, "build", "--push", "--sign", env={**engine_env, **sign_env})
    assert rerun.code == 0, rerun.err
    ((_, bundle),) = bundles(registry, authfile, repository, digest).values()
    sigstore.verify(bundle, SUBJECT, ISSUER)
