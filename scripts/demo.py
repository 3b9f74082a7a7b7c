"""The demo: a real git history, a registry and a container engine on loopback, then the release flow.

Run through scripts/demo.sh (which installs everything first). Everything lives under .demo/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from tests.services import Podman, Registry  # noqa: E402

WORK = TOP / ".demo"
BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def step(title: str) -> None:
    print(f"\n{BOLD}== {title}{RESET}", flush=True)


def sh(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    print(f"$ {' '.join(args)}", flush=True)
    subprocess.run(args, cwd=cwd, env=env, check=True)


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def build_infra() -> Path:
    """The GitOps infra repository the demo promotes into: examples/infra, one commit, a bare 'remote'."""
    work, bare = WORK / "infra", WORK / "infra.git"
    shutil.copytree(TOP / "examples" / "infra", work)
    git("init", "-q", "-b", "main", str(work), cwd=WORK)
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "chore: initial infra", cwd=work)
    git("clone", "-q", "--bare", str(work), str(bare), cwd=WORK)
    return bare


def build_repo(registry_host: str) -> Path:
    app, origin = WORK / "app", WORK / "origin.git"
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=WORK)
    git("init", "-q", "-b", "main", str(app), cwd=WORK)
    git("remote", "add", "origin", str(origin), cwd=app)
    source = TOP / "examples" / "app"
    for item in source.iterdir():
        if item.name != "history.txt":
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, app / item.name)
    infra = build_infra()
    config = app / "release.yaml"
    config.write_text(config.read_text().replace("localhost:5000", registry_host).replace("/DEMO_INFRA", str(infra)))
    first = True
    for line in (source / "history.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("tag "):
            git("tag", line[4:], cwd=app)
            continue
        if first:
            git("add", "-A", cwd=app)
            first = False
        else:
            with (app / "src" / "changes.txt").open("a") as changes:
                changes.write(line + "\n")
            git("add", "src/changes.txt", cwd=app)
        git("commit", "-q", "-m", line.replace("|", "\n\n"), cwd=app)
    git("push", "-q", "origin", "main", "--tags", cwd=app)
    return app


def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    os.environ.update(
        GIT_AUTHOR_NAME="Demo Dev",
        GIT_AUTHOR_EMAIL="dev@example.com",
        GIT_COMMITTER_NAME="Demo Dev",
        GIT_COMMITTER_EMAIL="dev@example.com",
    )
    step("services: CNCF registry (htpasswd) and Podman's Docker API, on loopback")
    with (
        Registry.start(WORK / "registry") as registry,
        Podman.start(WORK / "podman", insecure_registries=[registry.host]) as podman,
    ):
        print(f"registry {registry.url}, engine {podman.base_url}")
        env = {
            **os.environ,
            "DOCKER_HOST": podman.base_url,
            # Credentials through the environment, never on a command line.
            "RELEASE_REGISTRY_USER": registry.user,
            "RELEASE_REGISTRY_PASSWORD": registry.password,
        }
        step("demo repo: examples/app with the history in examples/app/history.txt")
        app = build_repo(registry.host)
        sh("git", "log", "--oneline", "--decorate", cwd=app)

        step("release plan: the next version, and why")
        sh("release", "plan", cwd=app, env=env)
        step("release notes")
        sh("release", "notes", cwd=app, env=env)
        step("release cut --push: CHANGELOG.md commit + annotated tag, pushed atomically")
        sh("release", "cut", "--push", cwd=app, env=env)
        step("release run: the tag pipeline CI would start, on a laptop: test, images, charts, publish, notes, promote")
        sh("release", "run", cwd=app, env=env)
        tags = registry.get("/v2/demo/app/tags/list").json()["tags"]
        print("demo/app tags:", ", ".join(sorted(tags)))
        charts = registry.get("/v2/charts/demo-app/tags/list").json()["tags"]
        print("charts/demo-app tags:", ", ".join(sorted(charts)))
        sh("git", "status", "--short", "--untracked-files=no", cwd=app)  # nothing: users' files are untouched
        step("the infra commit: only the values' bytes change")
        sh("git", "--git-dir", str(WORK / "infra.git"), "show", "--stat", "--format=%s%n%n%b", "main", cwd=app)
        sh("git", "--git-dir", str(WORK / "infra.git"), "show", "--format=", "main", cwd=app)
        step("release status: what runs where")
        sh("release", "status", cwd=app, env=env)
        step("release run again: every stage finds its work done")
        sh("release", "run", cwd=app, env=env)
        step("the release manifest (.release/state.json) the CI stages hand forward")
        sh("cat", ".release/state.json", cwd=app)
        step("release plan again")
        sh("release", "plan", cwd=app, env=env)


if __name__ == "__main__":
    main()
