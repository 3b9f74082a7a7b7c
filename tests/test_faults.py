"""Faults between `release run` and the services it writes to, injected by tests/faultproxy.py.

Every service the pipeline talks to sits behind two fault proxies, a TCP one in front of an HTTP one: the registry
(Podman pushes the images through them; our own client reads tags and pushes charts through them) and the
smart-HTTP git server (the release tag; the infra repo's clone and push). Each test injects one kind of fault into
one stage's requests, then checks one of two endings:

- the run succeeded after retries, and every remote holds each thing once: the image tags on the State's digest,
  one chart version with its blobs, one release tag on this commit, one infra commit;
- or it failed with one line (exit 1, no traceback), nothing partial is anywhere (no version tag without its
  image, no chart manifest, no release tag, no infra commit, nothing in the State that is not on the remote), and
  a rerun without faults completes.

The registry reads are faulted on a rerun, where they are the resume check: it must still find everything
published and push nothing. Podman must know the proxy is a plain-HTTP registry before it starts, so this module
has its own Podman service, started once the registry's proxies listen. `pytest -s` prints the figures.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from release.adapters import http
from tests.conftest import Repo, Result
from tests.faultproxy import FaultProxy, Rule
from tests.gitops.test_promote import INFRA_FILES, make_infra
from tests.gitserver import GitHTTP
from tests.services import Podman, Registry, scratch_context

USER, TOKEN = "releaser", "git-token-faults-3f1a"
STAGES = ("images", "charts", "publish", "promote")  # the stages with a remote result, in pipeline order
IMAGE = r"/v2/faults/[^/]+/app/"  # the image's repository: faults/<test>/app
CHART = r"/v2/faults/[^/]+/charts/app/"  # the chart's: faults/<test>/charts/app
FIGURES: collections.Counter[tuple[str, str]] = collections.Counter()
TIMES: list[float] = []
ERRORS: dict[str, str] = {}  # stage → the one line a lasting fault ended the run with


# ------------------------------------------------------------------------------------------------ services


@dataclass
class Chain:
    """Clients talk to `tcp`, which passes bytes to `http`, which passes requests to the service."""

    tcp: FaultProxy
    http: FaultProxy

    @property
    def host(self) -> str:
        return self.tcp.host

    @property
    def url(self) -> str:
        return self.tcp.url

    def layer(self, name: str) -> FaultProxy:
        return self.tcp if name == "tcp" else self.http

    def clear(self) -> None:
        self.tcp.clear()
        self.http.clear()

    def release(self) -> None:
        self.tcp.release()
        self.http.release()

    def injected(self) -> dict[str, int]:
        return {f"{name} {kind}": n for name in ("http", "tcp") for kind, n in self.layer(name).injected.items()}


@contextmanager
def chain(port: int) -> Iterator[Chain]:
    with FaultProxy("127.0.0.1", port) as http, FaultProxy("127.0.0.1", http.port, mode="tcp") as tcp:
        yield Chain(tcp, http)


@pytest.fixture(scope="module")
def registry_chain(registry: Registry) -> Iterator[Chain]:
    with chain(registry.port) as proxies:
        yield proxies


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, registry: Registry, registry_chain: Chain) -> Iterator[Podman]:
    """Podman that takes the registry's proxy for a plain-HTTP registry (known only once the proxy listens)."""
    root = tmp_path_factory.mktemp("podman-faults")
    with Podman.start(root, insecure_registries=[registry.host, registry_chain.host]) as service:
        yield service


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    started = time.monotonic()
    yield
    if FIGURES:
        print(f"\nfaults injected ({time.monotonic() - started:.0f} s):")
        for (stage, kind), count in sorted(FIGURES.items()):
            print(f"  {stage:8} {kind:22} {count}")
        print(f"  total {sum(FIGURES.values())} in {len(TIMES)} tests")
        for stage, line in ERRORS.items():
            print(f"  {stage}: {line}")


@dataclass
class World:
    """An app repo whose release.yaml sends everything through the proxies, and what is on the other side."""

    repo: Repo
    registry: Registry
    proxies: dict[str, Chain]  # registry, origin, infra
    served: Path  # the git server's root: app.git (origin) and infra.git
    name: str  # this test's repositories in the registry: faults/<name>/app and faults/<name>/charts/app
    environments: tuple[str, ...] = ("dev",)

    @property
    def image(self) -> str:
        return f"faults/{self.name}/app"

    @property
    def chart(self) -> str:
        return f"faults/{self.name}/charts/app"

    @property
    def origin(self) -> Path:
        return self.served / "app.git"

    @property
    def infra(self) -> Path:
        return self.served / "infra.git"

    def clear(self) -> None:
        for proxies in self.proxies.values():
            proxies.clear()

    def state(self) -> dict[str, Any]:
        path = self.repo.path / ".release/state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def tags(self, name: str) -> list[str]:
        response = self.registry.get(f"/v2/{name}/tags/list")
        return sorted(response.json().get("tags") or []) if response.status_code == 200 else []

    def manifest(self, name: str, tag: str) -> tuple[str, dict[str, Any]]:
        response = self.registry.manifest(name, tag)
        assert response.status_code == 200, (name, tag, response.status_code)
        return response.headers["Docker-Content-Digest"], response.json()

    def release_tags(self) -> dict[str, str]:
        out = git(self.origin, "for-each-ref", "--format=%(refname:short) %(*objectname)", "refs/tags")
        return dict(line.split() for line in out.splitlines())

    def claims(self) -> list[str]:
        return git(self.origin, "for-each-ref", "--format=%(refname)", "refs/release-claims").split()

    def infra_commits(self) -> int:
        return int(git(self.infra, "rev-list", "--count", "main"))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def config(registry: str, infra: str, name: str, environments: Sequence[str]) -> str:
    """Each environment after the one before it, all automatic: `release run` promotes them in order."""
    envs = "".join(
        f"""\
  - name: {env}
    repo: {infra}/infra.git
    automatic: true
{f"    after: {environments[i - 1]}{chr(10)}" if i else ""}\
    updates:
      - {{file: apps/{env}/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""
        for i, env in enumerate(environments)
    )
    return f"""\
images:
  - name: app
    repository: {registry}/faults/{name}/app
charts:
  - path: charts/app
    values: {{image.digest: "{{image.app.digest}}"}}
    publish: ["oci://{registry}/faults/{name}/charts"]
environments:
{envs}"""


def make_app(repo: Repo, registry: str, origin: str, infra: str, name: str, environments: Sequence[str]) -> None:
    """A FROM scratch image, a chart whose values take the image's digest, automatic environments."""
    scratch_context(repo.path, {"hello.txt": f"{name}\n"})
    repo.write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.0.1\n")
    repo.write("charts/app/values.yaml", "image:\n  digest: none\n")
    repo.write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    repo.write("release.yaml", config(registry, infra, name, environments))
    repo.git("add", "-A")
    repo.commit("feat: first")
    repo.git("remote", "add", "origin", f"{origin}/app.git")


def serve_git(root: Path) -> None:
    """app.git (the empty origin) and infra.git (the GitOps layout), both accepting pushes over smart HTTP."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(root / "app.git")], check=True)
    make_infra(root, INFRA_FILES)
    for bare in ("app.git", "infra.git"):
        git(root / bare, "config", "http.receivepack", "true")


@contextmanager
def git_server(root: Path) -> Iterator[GitHTTP]:
    with GitHTTP(root, USER, TOKEN) as server:
        # A client reset by the proxy is expected here: no traceback from the server's thread (the test captures
        # stderr, where the CLI's one-line error is checked).
        server.server.handle_error = lambda *args: None  # type: ignore[method-assign]
        yield server


@contextmanager
def build_world(
    repo: Repo, tmp_path: Path, name: str, registry: Registry, registry_chain: Chain, environments: Sequence[str]
) -> Iterator[World]:
    """The app repo, its origin and infra repo served over smart HTTP, each service behind its own proxies."""
    served = tmp_path / "served"
    served.mkdir()
    serve_git(served)
    registry_chain.clear()
    try:
        with git_server(served) as server:
            port = int(server.url.rsplit(":", 1)[1])
            with chain(port) as origin, chain(port) as infra:
                make_app(repo, registry_chain.host, origin.url, infra.url, name, environments)
                proxies = {"registry": registry_chain, "origin": origin, "infra": infra}
                yield World(repo, registry, proxies, served, name, tuple(environments))
    finally:
        registry_chain.release()
        registry_chain.clear()


def unique_name(request: pytest.FixtureRequest) -> str:
    """The test's parameters' id (or its name): a registry repository name of its own."""
    node = request.node
    name = str(node.callspec.id if hasattr(node, "callspec") else node.name.removeprefix("test_")).lower()
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")


@pytest.fixture
def world(repo: Repo, tmp_path: Path, request: pytest.FixtureRequest, registry: Registry, registry_chain: Chain):  # type: ignore[no-untyped-def]
    with build_world(repo, tmp_path, unique_name(request), registry, registry_chain, ["dev"]) as built:
        yield built


@pytest.fixture
def run(world: World, release, engine: Podman, registry: Registry) -> Callable[[], Result]:  # type: ignore[no-untyped-def]
    env = {
        "DOCKER_HOST": engine.base_url,
        "RELEASE_REGISTRY_USER": registry.user,
        "RELEASE_REGISTRY_PASSWORD": registry.password,
        "RELEASE_GIT_USER": USER,
        "RELEASE_GIT_TOKEN": TOKEN,
    }

    def go() -> Result:
        return release(world.repo, "run", env=env)  # type: ignore[no-any-return]

    return go


# ------------------------------------------------------------------------------------------------ checks


def assert_complete(world: World, result: Result) -> None:
    assert result.code == 0, result.err
    assert_published(world)


def assert_published(world: World) -> None:
    """Everything published, each thing once: the image tags on one digest (the State's), one chart version with
    its blobs, one release tag on this commit (and no claim left), one infra commit per environment."""
    head, state = world.repo.head(), world.state()
    assert world.tags(world.image) == sorted(["0", "0.1", "0.1.0", f"sha-{head[:7]}"])
    assert {world.manifest(world.image, t)[0] for t in world.tags(world.image)} == {state["images"][0]["digest"]}
    assert world.tags(world.chart) == ["0.1.0"]
    digest, manifest = world.manifest(world.chart, "0.1.0")
    for blob in [manifest["config"], *manifest["layers"]]:
        assert world.registry.blob(world.chart, blob["digest"]).status_code == 200
    assert [(c["version"], *c["digests"].values()) for c in state["charts"]] == [("0.1.0", digest)]
    assert world.release_tags() == {"v0.1.0": head}
    assert world.claims() == []  # the run's reservation of v0.1.0 on origin is gone
    assert state["released"] is True
    assert world.infra_commits() == 1 + len(world.environments)  # one commit per environment
    for env in world.environments:
        assert 'tag: "0.1.0"' in git(world.infra, "show", f"main:apps/{env}/app/values.yaml")
    assert [p["env"] for p in state["promotions"]] == list(world.environments)


def assert_one_line_failure(result: Result) -> str:
    assert result.code == 1, result.err
    assert "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("release: error:")]
    assert len(errors) == 1 and result.err.rstrip("\n").endswith(errors[0]), result.err
    return errors[0]


def assert_consistent(world: World) -> None:
    """Whatever is on a remote is whole, and the State claims nothing the remotes lack (it may lag behind them:
    a run can die between a push and the State's save)."""
    head, state = world.repo.head(), world.state()
    version_tag = "0.1.0" in world.tags(world.image)
    if version_tag:  # a version tag is only ever pushed last, on a whole image built from this commit
        _, manifest = world.manifest(world.image, "0.1.0")
        for blob in [manifest["config"], *manifest["layers"]]:
            assert world.registry.blob(world.image, blob["digest"]).status_code == 200
        config = world.registry.blob(world.image, manifest["config"]["digest"]).json()
        assert config["config"]["Labels"]["org.opencontainers.image.revision"] == head
    for image in state.get("images", []):
        assert version_tag and world.manifest(world.image, "0.1.0")[0] == image["digest"]
    if world.tags(world.chart):
        assert world.tags(world.chart) == ["0.1.0"]
        _, manifest = world.manifest(world.chart, "0.1.0")
        for blob in [manifest["config"], *manifest["layers"]]:
            assert world.registry.blob(world.chart, blob["digest"]).status_code == 200
    for chart in state.get("charts", []):
        assert world.tags(world.chart) == ["0.1.0"] and chart["version"] == "0.1.0"
    assert set(world.release_tags().values()) <= {head}
    if state.get("released"):
        assert world.release_tags() == {"v0.1.0": head}
    assert world.infra_commits() <= 1 + len(world.environments)
    for promotion in state.get("promotions", []):
        assert 'tag: "0.1.0"' in git(world.infra, "show", f"main:apps/{promotion['env']}/app/values.yaml")


def assert_nothing_partial(world: World, failed: str) -> None:
    """Consistent, and the failed stage and those after it left nothing behind."""
    assert_consistent(world)
    state, later = world.state(), STAGES[STAGES.index(failed) :]
    if "images" in later:
        assert "0.1.0" not in world.tags(world.image) and not state.get("images")
    if "charts" in later:
        assert world.tags(world.chart) == [] and not state.get("charts")
    if "publish" in later:
        assert world.release_tags() == {} and not state.get("released")
    if "promote" in later:
        assert world.infra_commits() == 1 and not state.get("promotions")


# ------------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    stage: str  # images, reads (the resume check, on a rerun), charts, publish, promote
    rule: Rule  # copied for each run (a rule counts its hits)
    layer: str = "http"  # or tcp
    fails: bool = False  # the fault lasts: the run must fail cleanly, and a rerun finish the job

    @property
    def where(self) -> str:
        return {"publish": "origin", "promote": "infra"}.get(self.stage, "registry")


def case(stage: str, name: str, rule: Rule) -> Any:
    layer = "tcp" if name.startswith("tcp") else "http"
    return pytest.param(Case(stage, rule, layer, fails=name == "down"), id=f"{stage}-{name}")


R = Rule
MANIFESTS, UPLOADS = IMAGE + "manifests/", CHART + "blobs/uploads/"
VERSION = r"/manifests/0\.1\.0$"  # the version tag of the image or of the chart
RECEIVE, UPLOAD = r"git-receive-pack$", r"git-upload-pack$"
CASES = [
    # images: Podman pushes blobs (POST, PATCH, PUT) and manifests (PUT) through the proxies, the version tag last
    case("images", "503", R.fail(503, times=2, method="PUT", path=MANIFESTS)),
    case("images", "429", R.throttle(1, times=2, method="PUT", path=MANIFESTS)),
    case("images", "reset-upload", R.reset(100, body=True, times=2, method="PATCH", path=IMAGE)),
    case("images", "reset-answer", R.reset(10, "response", method="PUT", path=MANIFESTS)),
    case("images", "stall", R.stall(2, 100, body=True, method="PATCH", path=IMAGE)),
    case("images", "tcp-reset", R.reset(300, "response", skip=8, times=2)),
    case("images", "tcp-stall", R.stall(1, 100, "request", skip=8, times=2)),
    case("images", "down", R.fail(503, times=None, method="PUT", path=IMAGE[:-1] + VERSION)),
    # reads: the resume check of a rerun (the image's version tag, the chart's version)
    case("reads", "503", R.fail(503, times=2, method="GET", path=VERSION)),
    case("reads", "429", R.throttle(1, times=2, method="GET", path=VERSION)),
    case("reads", "reset", R.reset(0, times=2, method="GET", path=VERSION)),
    case("reads", "reset-mid-body", R.reset(50, "response", body=True, times=2, method="GET", path=VERSION)),
    case("reads", "stall", R.stall(2, 10, "response", times=2, method="GET", path=VERSION)),
    case("reads", "tcp-reset", R.reset(20, "response", times=2)),
    case("reads", "down", R.fail(503, times=None, method="GET", path=IMAGE[:-1] + VERSION)),
    # charts: our own OCI push (HEAD blob, POST + PUT upload, PUT manifest)
    case("charts", "503", R.fail(503, times=2, method="POST", path=UPLOADS)),
    case("charts", "429", R.throttle(1, times=2, method="HEAD", path=CHART + "blobs/")),
    case("charts", "reset-upload", R.reset(200, body=True, times=2, method="PUT", path=UPLOADS)),
    case("charts", "reset-answer", R.reset(10, "response", method="PUT", path=CHART + "manifests/")),
    case("charts", "stall", R.stall(2, 100, body=True, method="PUT", path=UPLOADS)),
    case("charts", "down", R.fail(503, times=None, method="PUT", path=CHART + "manifests/")),
    # publish: the release tag over smart HTTP (ls-remote, then push)
    case("publish", "503", R.fail(503, path="service=git-receive-pack")),
    case("publish", "429", R.throttle(1, method="POST", path=RECEIVE)),
    case("publish", "reset-push", R.reset(10, body=True, method="POST", path=RECEIVE)),
    case("publish", "reset-answer", R.reset(10, "response", method="POST", path=RECEIVE)),
    case("publish", "stall", R.stall(2, 50, method="POST", path=RECEIVE)),
    # connections to origin: the claim's push (2), the tag's ls-remote (2) and push (2), the claim's removal (2)
    case("publish", "tcp-reset-push", R.reset(100, skip=5)),
    case("publish", "tcp-stall", R.stall(0.5, 10, "response", times=None)),
    case("publish", "down", R.fail(503, times=None, method="POST", path=RECEIVE)),
    # promote: the infra repo's shallow clone (ls-remote, fetch) and push over smart HTTP
    case("promote", "503", R.fail(503, method="POST", path=UPLOAD)),
    case("promote", "429", R.throttle(1, method="GET", path="service=git-upload-pack")),
    case("promote", "reset-fetch", R.reset(100, "response", body=True, skip=1, method="POST", path=UPLOAD)),
    case("promote", "reset-push", R.reset(10, body=True, method="POST", path=RECEIVE)),
    case("promote", "reset-answer", R.reset(10, "response", method="POST", path=RECEIVE)),
    case("promote", "stall", R.stall(2, 50, method="POST", path=RECEIVE)),
    case("promote", "tcp-reset", R.reset(30, "response")),
    case("promote", "tcp-stall", R.stall(0.3, 10, "response", times=None)),
    case("promote", "down", R.fail(503, times=None, method="POST", path=RECEIVE)),
]


SAYS = {  # what the one line of a lasting fault names
    "images": "push of ",
    "reads": "while reading faults/",
    "charts": "while writing faults/",
    "publish": "could not push v0.1.0 to origin",
    "promote": "the network or the git server failed",
}


@pytest.mark.parametrize("fault", CASES)
def test_fault(world: World, run: Callable[[], Result], fault: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    if fault.fails:  # the same attempts, with the registry client's backoff (0.5 s doubling) scaled to 0.05 s
        monkeypatch.setattr(http._Retry, "get_backoff_time", lambda self: 0.05)
    proxies = world.proxies[fault.where]
    pushes_before = 0
    if fault.stage == "reads":  # faults on the resume check: everything is published already
        assert_complete(world, run())
        world.clear()
        pushes_before = len(proxies.http.requests(method="PUT|PATCH|POST"))
    proxies.layer(fault.layer).add(dataclasses.replace(fault.rule))
    result = run()
    injected = proxies.injected()
    assert injected, f"the fault was never injected: {proxies.layer(fault.layer).log}"
    for kind, count in injected.items():
        FIGURES[(fault.stage, kind)] += count
    if not fault.fails:
        assert_complete(world, result)
        if fault.stage == "reads":
            assert "skipped: already published" in result.err
            assert len(proxies.http.requests(method="PUT|PATCH|POST")) == pushes_before  # nothing pushed again
        TIMES.append(time.monotonic() - started)
        return
    error = assert_one_line_failure(result)
    ERRORS[fault.stage] = error
    assert "503" in error and SAYS[fault.stage] in error, error  # what failed, where, and that it is not us
    if fault.stage == "reads":
        assert_published(world)  # as it was: a failed check takes nothing away
    else:
        assert_nothing_partial(world, fault.stage)
    world.clear()
    assert_complete(world, run())
    TIMES.append(time.monotonic() - started)


# ------------------------------------------------------------------------------------------------ the proxy itself


def test_the_proxy_injects_what_it_is_told_and_passes_the_rest(registry: Registry, registry_chain: Chain) -> None:
    import requests

    registry_chain.clear()
    http_proxy = registry_chain.http
    session = requests.Session()
    session.auth = registry.auth
    url = registry_chain.url + "/v2/_catalog"
    http_proxy.add(Rule.fail(502, times=2, path="_catalog"), Rule.throttle(7, method="HEAD"))
    assert [session.get(url).status_code for _ in range(3)] == [502, 502, 200]
    throttled = session.head(url)
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    http_proxy.add(Rule.reset(5, path="_catalog"), Rule.reset(5, "response", body=True, path="_catalog"))
    with pytest.raises(requests.ConnectionError):  # before the request reached the registry
        session.get(url)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # in the middle of the answer's body
        session.get(url)
    http_proxy.add(Rule.stall(0.5, direction="response", path="_catalog"))
    started = time.monotonic()
    assert session.get(url).status_code == 200 and time.monotonic() - started >= 0.5
    # an upload's Location names the address the client used (the outer proxy), never the registry's own
    upload = session.post(registry_chain.url + "/v2/faults/proxy/app/blobs/uploads/")
    assert upload.status_code == 202 and upload.headers["Location"].startswith(registry_chain.url + "/")
    registry_chain.tcp.add(Rule.reset(10, "response"))
    with pytest.raises(requests.ConnectionError):
        session.get(url)
    with pytest.raises(requests.ConnectionError):  # TLS is not HTTP: reset, as a plain-HTTP server would
        requests.get(f"https://{registry_chain.host}/v2/", timeout=5)
    assert http_proxy.injected == {"502": 2, "429": 1, "reset request": 1, "reset response": 1, "stall response": 1}
    assert registry_chain.tcp.injected == {"reset response": 1}
    assert [(e.method, e.fault, e.status) for e in http_proxy.requests(path="_catalog")][:4] == [
        ("GET", "502", 502),
        ("GET", "502", 502),
        ("GET", None, 200),
        ("HEAD", "429", 429),
    ]
    registry_chain.clear()
