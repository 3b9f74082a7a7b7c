"""Secret canaries: the whole pipeline runs with distinctive random credentials, and none of them appears anywhere.

`release run` (a subprocess: everything it and its children print is captured), `release promote prod` in
merge-request mode against the fake forge, `release status`, `release rollback`, `release unhold`, and failing runs
(wrong registry password, wrong git token, wrong forge token, an unreachable registry) use canary values for the
registry password (RELEASE_REGISTRY_PASSWORD and the same in DOCKER_AUTH_CONFIG), the forge tokens (GITLAB_TOKEN,
GITHUB_TOKEN, CI_JOB_TOKEN) and the git token (RELEASE_GIT_TOKEN), plus the wrong values the failing runs use. Each
is looked for raw and as base64 (alone and as `user:secret`, the Basic form) in: stdout and stderr of every command,
every file of the app's work tree (the State and all of `.release/`, release.env, chart archives), GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY, the infra and chart-branch repositories (`git log -p --all`, every archive in them), the app's
origin (tags and their messages, `git log -p --all`), every request body, path and query the fake forge recorded and
the merge requests, pull requests and release objects it holds, every file of the registry's storage (manifests,
config blobs, layers, decompressed), the argv of every git command the runs started (a `git` shim on PATH logs them
all) and command lines sampled from /proc while the runs were going. gzip data is searched decompressed as well.
"""

from __future__ import annotations

import base64
import collections
import gzip
import json
import os
import secrets
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Repo
from tests.gitops.test_promote import INFRA_FILES, git, make_infra, show
from tests.gitserver import GitHTTP
from tests.services import Podman, Registry, free_port, scratch_context

TOP = Path(__file__).resolve().parent.parent
GIT_USER = "releaser"
REGISTRY_USER = "canary-bot"


def canary(kind: str) -> str:
    return f"{kind}-canary-{secrets.token_hex(12)}"


# ------------------------------------------------------------------------------------------------- the scanner


@dataclass
class Scan:
    """Every place looked at, by category, and every canary form found (the test wants none)."""

    forms: dict[str, bytes]
    checked: collections.Counter[str] = field(default_factory=collections.Counter)
    found: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, named: dict[str, str], basic_users: dict[str, str]) -> Scan:
        """Raw, base64 alone, and base64 of `user:secret` for the secrets sent with Basic auth."""
        forms: dict[str, bytes] = {}
        for label, value in named.items():
            forms[label] = value.encode()
            forms[f"{label} (base64)"] = base64.b64encode(value.encode())
            if label in basic_users:
                forms[f"{label} (Basic)"] = base64.b64encode(f"{basic_users[label]}:{value}".encode())
        return cls(forms)

    def check(self, category: str, name: str, data: bytes | str) -> None:
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        self.checked[category] += 1
        for blob in expand(raw):
            for label, form in self.forms.items():
                if form in blob:
                    self.found.append(f"{label} in {category}: {name}")

    @property
    def places(self) -> int:
        return sum(self.checked.values())


def expand(data: bytes, depth: int = 0) -> Iterator[bytes]:
    """The bytes, and what they decompress to when they are gzip or zlib data (a layer, a chart, a git object)."""
    yield data
    if depth > 2:
        return
    inner: bytes | None = None
    try:
        if data[:2] == b"\x1f\x8b":
            inner = gzip.decompress(data)
        elif data[:1] == b"\x78":
            inner = zlib.decompress(data)
    except (OSError, EOFError, zlib.error):
        inner = None
    if inner is not None:
        yield from expand(inner, depth + 1)


def test_the_scanner_finds_canaries_in_every_form_it_claims():
    scan = Scan.of({"token": "tok-canary-abc123"}, {"token": "bob"})
    scan.check("x", "raw", "a tok-canary-abc123 b")
    scan.check("x", "gzip", gzip.compress(b"..tok-canary-abc123.."))
    scan.check("x", "zlib", zlib.compress(b"Authorization: Basic " + base64.b64encode(b"bob:tok-canary-abc123")))
    scan.check("x", "clean", "nothing here")
    assert [f.split(" in ")[0] for f in scan.found] == ["token", "token", "token (Basic)"]
    assert scan.checked["x"] == 4


# ----------------------------------------------------------------------------------- watching command lines


class ArgvWatch:
    """A `git` shim on PATH that logs every argv, and a thread sampling /proc/*/cmdline while commands run."""

    def __init__(self, tmp: Path) -> None:
        self.bin = tmp / "shim-bin"
        self.bin.mkdir()
        self.log = tmp / "git-argv.log"
        real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout
        shim = self.bin / "git"
        shim.write_text(
            "#!/bin/sh\n"
            f"{{ for a in \"$@\"; do printf '%s\\037' \"$a\"; done; printf '\\036'; }} >> '{self.log}'\n"
            f"exec '{real.strip()}' \"$@\"\n"
        )
        shim.chmod(0o755)
        self.samples: set[bytes] = set()
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit() or entry.name == me:
                    continue
                try:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as handle:
                        self.samples.add(handle.read())
                except OSError:
                    continue
            self.sweeps += 1
            self._stop.wait(0.005)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def git_argvs(self) -> list[list[str]]:
        text = self.log.read_text(errors="surrogateescape") if self.log.exists() else ""
        return [record.split("\x1f")[:-1] for record in text.split("\x1e") if record]


# ------------------------------------------------------------------------------------------------- services


@pytest.fixture(scope="module")
def canary_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A registry of our own: its password is a canary."""
    with Registry.start(
        tmp_path_factory.mktemp("canary-registry"), user=REGISTRY_USER, password=canary("regpw")
    ) as service:
        yield service


@pytest.fixture(scope="module")
def canary_podman(tmp_path_factory: pytest.TempPathFactory, canary_registry: Registry) -> Iterator[Podman]:
    with Podman.start(tmp_path_factory.mktemp("canary-podman"), insecure_registries=[canary_registry.host]) as svc:
        yield svc


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    @property
    def last(self) -> str:
        lines = self.err.strip().splitlines()
        return lines[-1] if lines else ""


CONFIG = """\
tests:
  - {{name: unit, run: "test -f hello.txt"}}
images:
  - name: app
    repository: {registry}/canary/app
charts:
  - path: charts/app
    values: {{image.tag: "{{version}}", image.digest: "{{image.app.digest}}"}}
    publish: ["oci://{registry}/canary-charts", "git+{git}/charts.git#gh-pages"]
environments:
  - name: dev
    repo: {git}/infra.git
    automatic: true
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
  - name: prod
    repo: {git}/infra.git
    mode: merge-request
    forge: gitlab
    api: {forge}/api/v4
    project: team/infra
    updates:
      - {{file: apps/prod/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
forge_release:
  forge: {forge_kind}
  api: {forge_api}
  project: team/app
"""

CHART = {
    "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 0.0.1\n",
    "charts/app/values.yaml": "image:\n  tag: none\n  digest: none\n",
    "charts/app/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n",
}


def test_no_canary_appears_anywhere(repo: Repo, tmp_path, forge, canary_registry, canary_podman):
    registry = canary_registry
    git_token, gitlab_token, github_token, job_token = (
        canary("gittok"),
        canary("glpat"),
        canary("ghp"),
        canary("jobtok"),
    )
    wrong = {"registry": canary("wrongreg"), "git": canary("wronggit"), "forge": canary("wrongforge")}
    named = {
        "RELEASE_REGISTRY_PASSWORD": registry.password,
        "RELEASE_GIT_TOKEN": git_token,
        "GITLAB_TOKEN": gitlab_token,
        "GITHUB_TOKEN": github_token,
        "CI_JOB_TOKEN": job_token,
        "wrong registry password": wrong["registry"],
        "wrong git token": wrong["git"],
        "wrong forge token": wrong["forge"],
    }
    scan = Scan.of(
        named,
        {
            "RELEASE_REGISTRY_PASSWORD": REGISTRY_USER,
            "RELEASE_GIT_TOKEN": GIT_USER,
            "wrong registry password": REGISTRY_USER,
            "wrong git token": GIT_USER,
        },
    )
    forge.gitlab_tokens.add(gitlab_token)
    forge.github_tokens.add(github_token)
    forge.job_token = job_token

    served = tmp_path / "served"
    served.mkdir()
    infra = make_infra(served, INFRA_FILES)
    for name in ("origin.git", "charts.git"):
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(served / name)], check=True)
    for name in ("origin.git", "charts.git", "infra.git"):
        git(served / name, "config", "http.receivepack", "true")
    github_output, step_summary = tmp_path / "github-output", tmp_path / "step-summary"
    docker_auth = json.dumps(
        {"auths": {registry.host: {"auth": base64.b64encode(f"{REGISTRY_USER}:{registry.password}".encode()).decode()}}}
    )
    runs: list[Run] = []

    with GitHTTP(served, GIT_USER, git_token) as server, ArgvWatch(tmp_path) as watch:

        def config(forge_kind: str, registry_host: str = registry.host) -> str:
            api = f"{forge.url}/api/v4" if forge_kind == "gitlab" else forge.url
            return CONFIG.format(
                registry=registry_host, git=server.url, forge=forge.url, forge_kind=forge_kind, forge_api=api
            )

        base = {
            "PATH": f"{watch.bin}:{os.environ['PATH']}",
            "DOCKER_HOST": canary_podman.base_url,
            "RELEASE_GIT_USER": GIT_USER,
            "RELEASE_GIT_TOKEN": git_token,
            "RELEASE_REGISTRY_USER": REGISTRY_USER,
            "RELEASE_REGISTRY_PASSWORD": registry.password,
            "DOCKER_AUTH_CONFIG": docker_auth,
        }
        gitlab = {**base, "GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "main", "GITLAB_TOKEN": gitlab_token}
        gitlab["CI_JOB_TOKEN"] = job_token
        github = {
            **{k: v for k, v in base.items() if not k.startswith("RELEASE_REGISTRY_")},  # DOCKER_AUTH_CONFIG only
            "GITHUB_ACTIONS": "true",
            "GITHUB_REF_NAME": "main",
            "GITHUB_TOKEN": github_token,
            "GITHUB_OUTPUT": str(github_output),
            "GITHUB_STEP_SUMMARY": str(step_summary),
        }

        def release(*args: str, env: dict[str, str], code: int = 0) -> Run:
            proc = subprocess.run(
                [sys.executable, "-m", "release", *args],
                cwd=repo.path,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            run = Run(args, proc.returncode, proc.stdout, proc.stderr)
            runs.append(run)
            assert run.code == code, (args, run.out, run.err)
            assert "Traceback" not in run.err
            if code == 1:
                assert run.last.startswith("release: error:"), run.err
            return run

        scratch_context(repo.path, {"hello.txt": "one\n"})
        repo.git("add", "Dockerfile", "hello.txt")  # the image is built from committed files: the tree is clean
        repo.commit("feat: first", {**CHART, "release.yaml": config("gitlab")})
        repo.git("remote", "add", "origin", f"{server.url}/origin.git")
        release("run", env=gitlab)  # 0.1.0: GitLab CI, RELEASE_REGISTRY_*, a GitLab release object
        assert 'tag: "0.1.0"' in show(infra, "apps/dev/app/values.yaml")

        repo.commit("feat: second", {"hello.txt": "two\n", "release.yaml": config("github")})
        release("run", env=github)  # 0.2.0: GitHub Actions, DOCKER_AUTH_CONFIG, a GitHub release object
        assert 'tag: "0.2.0"' in show(infra, "apps/dev/app/values.yaml")
        assert github_output.read_text() and step_summary.read_text()
        mr = release("promote", "prod", "--mode", "merge-request", env=gitlab)
        assert mr.out.strip().endswith("/-/merge_requests/1")
        release("status", env=gitlab)
        release("rollback", "dev", env=gitlab)
        assert 'tag: "0.1.0"' in show(infra, "apps/dev/app/values.yaml")
        release("unhold", "dev", env=gitlab)  # the rollback held dev: the next pipeline would skip it
        release("promote", "prod", "--mode", "merge-request", env={**gitlab, "GITLAB_TOKEN": wrong["forge"]}, code=1)

        repo.commit("feat: third", {"hello.txt": "three\n", "release.yaml": config("gitlab")})
        release("run", env={**gitlab, "RELEASE_REGISTRY_PASSWORD": wrong["registry"]}, code=1)
        dead = tmp_path / "unreachable.yaml"
        dead.write_text(config("gitlab", registry_host=f"127.0.0.1:{free_port()}"))
        release("run", "--config", str(dead), env=gitlab, code=1)
        release("run", env={**gitlab, "RELEASE_GIT_TOKEN": wrong["git"]}, code=1)
        release("run", env={**gitlab, "GITLAB_TOKEN": wrong["forge"]}, code=1)
        release("run", env=gitlab)  # the rerun finishes 0.3.0
        assert 'tag: "0.3.0"' in show(infra, "apps/dev/app/values.yaml")

    # Positive controls: the canaries were really used, so finding none means something.
    assert any(r.header("PRIVATE-TOKEN") == gitlab_token for r in forge.calls())
    assert any(r.header("Authorization") == f"Bearer {github_token}" for r in forge.calls())
    basic = "Basic " + base64.b64encode(f"{GIT_USER}:{git_token}".encode()).decode()
    assert basic in server.authorizations
    assert len(forge.gitlab_releases.releases["42"]) == 2 and len(forge.github_releases.releases["team/app"]) == 1
    lasts = [r.last for r in runs if r.code == 1]
    expected = [
        "rejected the token (GITLAB_TOKEN)",  # merge request with a wrong forge token
        "rejected the credentials from RELEASE_REGISTRY_USER/PASSWORD",
        "cannot reach registry",
        "infra.git refused the credentials",  # a wrong git token: the preflight of environment dev, before publishing
        "rejected the token (GITLAB_TOKEN) while trying to list",  # the preflight, before the tests
    ]
    assert len(lasts) == len(expected) and all(e in line for e, line in zip(expected, lasts, strict=True)), lasts

    for run in runs:
        name = " ".join(run.args)
        scan.check("stdout", name, run.out)
        scan.check("stderr", name, run.err)
    for path in sorted(p for p in repo.path.rglob("*") if p.is_file() and ".git" not in p.relative_to(repo.path).parts):
        category = "state and .release/" if ".release" in path.parts else "work tree (release.env, notes, ...)"
        scan.check(category, str(path.relative_to(repo.path)), path.read_bytes())
    for path in (github_output, step_summary):
        scan.check("GITHUB_OUTPUT / GITHUB_STEP_SUMMARY", path.name, path.read_bytes())
    scan.check("app repo (git log -p --all)", "clone", repo.git("log", "-p", "--all", "--format=fuller"))
    for name in ("origin.git", "infra.git", "charts.git"):
        bare = served / name
        scan.check(f"{name} (git log -p --all)", name, git(bare, "log", "-p", "--all", "--format=fuller"))
        scan.check(f"{name} refs", name, git(bare, "for-each-ref", "--format=%(refname) %(objectname)"))
        for obj in git(bare, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)").split(
            "\n"
        ):
            sha, kind = obj.split()
            if kind in ("tag", "commit", "tree", "blob"):
                content = subprocess.run(["git", "cat-file", kind, sha], cwd=bare, capture_output=True, check=True)
                scan.check(f"{name} objects (tags, commits, trees, blobs incl. chart archives)", sha, content.stdout)
    for request in forge.calls():
        seen = b"\0".join([request.path.encode(), json.dumps(request.query).encode(), request.body])
        scan.check("forge requests (path, query, body)", f"{request.method} {request.path}", seen)
    stored = {
        "merge requests": forge.merge_requests.mrs,
        "pull requests": forge.pulls.prs,
        "GitLab releases": forge.gitlab_releases.releases,
        "GitHub releases": forge.github_releases.releases,
    }
    for what, data in stored.items():
        scan.check("forge objects (MRs, PRs, releases)", what, json.dumps(data))
    for path in sorted(p for p in registry.storage.rglob("*") if p.is_file()):
        scan.check("registry storage (manifests, configs, layers, tags)", str(path), path.read_bytes())
    argvs = watch.git_argvs()
    for argv in argvs:
        scan.check("git argv (shim)", " ".join(argv)[:80], "\0".join(argv))
    for sample in watch.samples:
        scan.check("/proc/*/cmdline samples", sample[:80].decode(errors="replace"), sample)

    summary = ", ".join(f"{category}: {count}" for category, count in sorted(scan.checked.items()))
    print(
        f"\ncanaries: {len(named)} secrets in {len(scan.forms)} forms; {len(runs)} commands ({len(lasts)} failing); "
        f"{scan.places} places checked ({summary}); {watch.sweeps} /proc sweeps; found {len(scan.found)}"
    )
    assert scan.found == []
    assert len(argvs) > 50 and watch.sweeps > 50
    assert scan.checked["registry storage (manifests, configs, layers, tags)"] > 20
    assert scan.checked["forge requests (path, query, body)"] >= 10
