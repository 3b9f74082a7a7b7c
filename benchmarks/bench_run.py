"""Pipeline benchmark: `release run` (test, images, charts, publish, notes, promote dev in one process) on the
example app (examples/app, its history replayed as scripts/demo.py does, then `release cut --push`), against

- A: the same work as five commands of ours (`release test`, `release build --push`, `release chart --publish`,
  `release notes --output`, `release promote dev`): what one process saves;
- B: the glue a CI script does today, as one sh script: the smoke test, `podman build` + `podman tag` x3 +
  `podman push` x4, sed + a python one-liner to bump the chart, helm-python-sdk lint + package + push in a
  `python -c`, `git log` for notes, and a full `git clone` of the infra repo + sed + commit + push;

and the reruns of `release run` and of A (everything already done). Each contender, each rep, gets a fresh copy
of the app, a fresh infra repository, fresh image and chart repository names and a unique src/hello.txt (no layer
cache, no blob already in the registry). Contenders alternate; same loopback registry and Podman service.

    flock /tmp/release-podman.lock .venv/bin/python benchmarks/bench_run.py --reps 3
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from tests.services import Podman, Registry  # noqa: E402

IDENTITY = {
    "GIT_AUTHOR_NAME": "CI",
    "GIT_AUTHOR_EMAIL": "ci@example.com",
    "GIT_COMMITTER_NAME": "CI",
    "GIT_COMMITTER_EMAIL": "ci@example.com",
}

# Baseline B: what a CI job writes by hand for the same release. Inputs come through the environment.
GLUE = r"""set -eu
mark() { echo "$1 $(date +%s.%N)" >> "$WORK/marks"; }
mark start
cd "$APP"
VERSION=$(git describe --tags --abbrev=0 | sed 's/^v//')
PREVIOUS=$(git describe --tags --abbrev=0 "v$VERSION^")
SHA=$(git rev-parse --short=7 HEAD)
MAJOR=${VERSION%%.*}
MINOR=${VERSION#*.}; MINOR=${MINOR%%.*}
# test
sh -c 'test -s src/hello.txt && grep -q demo-app charts/demo-app/Chart.yaml'
mark test
# images
podman build -q -t "$IMAGE:$VERSION" . >/dev/null
for tag in "$MAJOR.$MINOR" "$MAJOR" "sha-$SHA"; do podman tag "$IMAGE:$VERSION" "$IMAGE:$tag"; done
for tag in "$VERSION" "$MAJOR.$MINOR" "$MAJOR" "sha-$SHA"; do
  podman push -q --tls-verify=false --authfile "$AUTHFILE" --digestfile "$WORK/digest" "$IMAGE:$tag"
done
DIGEST=$(cat "$WORK/digest")
mark images
# chart
sed -i "s/^version: .*/version: $VERSION/; s/^appVersion: .*/appVersion: \"$VERSION\"/" charts/demo-app/Chart.yaml
"$PY" -c 'import sys, yaml; p = sys.argv[1]; v = yaml.safe_load(open(p))
v["image"].update(repository=sys.argv[2], tag=sys.argv[3], digest=sys.argv[4]); yaml.safe_dump(v, open(p, "w"))' \
  charts/demo-app/values.yaml "$IMAGE" "$VERSION" "$DIGEST"
"$PY" -c 'import sys, helm_python as h; h.lint(sys.argv[1]); a = h.package(sys.argv[1], destination=sys.argv[2])
h.RegistryClient(plain_http=True, credentials_file=sys.argv[3]).push(a, sys.argv[4])' \
  charts/demo-app "$WORK" "$AUTHFILE" "$CHARTS"
mark chart
# notes
git log --no-merges --format='- %s' "$PREVIOUS..v$VERSION" > "$WORK/notes.md"
mark notes
# promote dev
git clone -q "file://$INFRA" "$WORK/infra"
cd "$WORK/infra"
sed -i "s/^  tag: .*/  tag: \"$VERSION\"/; s/^  digest: .*/  digest: \"$DIGEST\"/" apps/dev/demo-app/values.yaml
sed -i "s/newTag: .*/newTag: \"$VERSION\"/" overlays/dev/kustomization.yaml
sed -i "s/^      version: \"[^\"]*\"/      version: \"$VERSION\"/" clusters/dev/demo-app.yaml
git commit -q -am "chore(dev): deploy demo-app $VERSION"
git push -q origin HEAD:main
mark promote
"""


def git(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def make_app(root: Path, registry: str, env: dict[str, str]) -> dict[str, Path | str]:
    """examples/app with its history, a bare origin, a bare infra repo from examples/infra, then `release cut`."""
    root.mkdir(parents=True)
    name = root.name
    infra_work, infra = root / "infra-work", root / "infra.git"
    shutil.copytree(TOP / "examples" / "infra", infra_work)
    git(infra_work, "init", "-q", "-b", "main", env=env)
    git(infra_work, "add", "-A", env=env)
    git(infra_work, "commit", "-q", "-m", "chore: initial infra", env=env)
    git(root, "clone", "-q", "--bare", str(infra_work), str(infra), env=env)
    app, origin = root / "app", root / "origin.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin), env=env)
    app.mkdir()
    git(app, "init", "-q", "-b", "main", env=env)
    git(app, "remote", "add", "origin", str(origin), env=env)
    source = TOP / "examples" / "app"
    for item in source.iterdir():
        if item.name != "history.txt":
            (shutil.copytree if item.is_dir() else shutil.copy2)(item, app / item.name)
    with (app / "src" / "hello.txt").open("a") as hello:  # a layer no earlier build has
        hello.write(f"{name} {os.urandom(16).hex()}\n")
    image, charts = f"{registry}/{name}/app", f"oci://{registry}/{name}-charts"
    config = app / "release.yaml"
    text = config.read_text().replace("localhost:5000/demo/app", image).replace("oci://localhost:5000/charts", charts)
    config.write_text(text.replace("/DEMO_INFRA", str(infra)))
    first = True
    for line in (source / "history.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("tag "):
            git(app, "tag", line[4:], env=env)
            continue
        if first:
            git(app, "add", "-A", env=env)
            first = False
        else:
            with (app / "src" / "changes.txt").open("a") as changes:
                changes.write(line + "\n")
            git(app, "add", "src/changes.txt", env=env)
        git(app, "commit", "-q", "-m", line.replace("|", "\n\n"), env=env)
    git(app, "push", "-q", "origin", "main", "--tags", env=env)
    release(app, env, "cut", "--push")
    version = git(app, "describe", "--tags", "--exact-match", env=env).removeprefix("v")
    return {"app": app, "infra": infra, "image": image, "charts": charts, "version": version, "name": name}


RELEASE = str(Path(sys.executable).with_name("release"))


def release(app: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([RELEASE, *args], cwd=app, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"release {' '.join(args)} failed in {app}:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def check(registry: Registry, repo: dict[str, Path | str], env: dict[str, str]) -> None:
    """The contender did the whole job: 4 image tags, the chart, the version in the infra repo."""
    name, version = repo["name"], str(repo["version"])
    tags = set(registry.get(f"/v2/{name}/app/tags/list").json()["tags"])
    major, minor = version.split(".")[:2]
    assert {version, f"{major}.{minor}", major} <= tags and len(tags) == 4, tags
    charts = registry.get(f"/v2/{name}-charts/demo-app/tags/list").json()["tags"]
    assert charts == [version], charts
    infra = Path(repo["infra"])
    for path in ("apps/dev/demo-app/values.yaml", "overlays/dev/kustomization.yaml", "clusters/dev/demo-app.yaml"):
        assert f'"{version}"' in git(infra, "show", f"main:{path}", env=env), (name, path)
    values = git(infra, "show", "main:apps/dev/demo-app/values.yaml", env=env)
    assert re.search(r'digest: "?sha256:[0-9a-f]{64}', values), values


def stage_seconds(output: str) -> dict[str, float]:
    return {m[1]: float(m[2]) for m in re.finditer(r"^\[(\w+)\] .*\((\d+\.\d+)s\)$", output, re.MULTILINE)}


def row(what: str, times: list[float], *ratios: float | None) -> str:
    cells = [f"{r:.2f}" if r is not None else "" for r in ratios]
    return f"| {what} | {statistics.median(times):.2f} ({min(times):.2f}–{max(times):.2f}) | {' | '.join(cells)} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-run-"))
    with (
        Registry.start(root / "registry") as registry,
        Podman.start(root / "podman", insecure_registries=[registry.host]) as podman,
    ):
        env = {
            **os.environ,
            **IDENTITY,
            "DOCKER_HOST": podman.base_url,
            "RELEASE_REGISTRY_USER": registry.user,
            "RELEASE_REGISTRY_PASSWORD": registry.password,
        }
        # B's credentials: an authfile (docker config.json format, read by podman and Helm), as CI provides one.
        authfile = root / "auth.json"
        token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
        authfile.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
        authfile.chmod(0o600)
        glue = root / "glue.sh"
        glue.write_text(GLUE)
        podman_env = {k: v for k, v in podman.env.items() if k != "CONTAINER_HOST"}
        glue_env = {**podman_env, **IDENTITY, "PY": sys.executable, "AUTHFILE": str(authfile)}

        times: dict[str, list[float]] = {k: [] for k in ("run", "A", "B", "run again", "A again")}
        stages: dict[str, list[float]] = {}
        rerun_stages: dict[str, list[float]] = {}
        five_steps: dict[str, list[float]] = {}
        glue_steps: dict[str, list[float]] = {}

        def ours_run(rep: int) -> None:
            repo = make_app(root / f"run{rep}", registry.host, env)
            app = Path(repo["app"])
            output: list[str] = []
            times["run"].append(timed(lambda: output.append(release(app, env, "run"))))
            check(registry, repo, env)
            times["run again"].append(timed(lambda: output.append(release(app, env, "run"))))
            for name, seconds in stage_seconds(output[0]).items():
                stages.setdefault(name, []).append(seconds)
            for name, seconds in stage_seconds(output[1]).items():
                rerun_stages.setdefault(name, []).append(seconds)

        def five(app: Path, steps: dict[str, list[float]] | None = None) -> None:
            for command in (
                ["test"],
                ["build", "--push"],
                ["chart", "--publish"],
                ["notes", "--output", str(app / ".release" / "notes.md")],
                ["promote", "dev"],
            ):
                seconds = timed(lambda command=command: release(app, env, *command))
                if steps is not None:
                    steps.setdefault(command[0], []).append(seconds)

        def ours_five(rep: int) -> None:
            repo = make_app(root / f"five{rep}", registry.host, env)
            app = Path(repo["app"])
            times["A"].append(timed(lambda: five(app, five_steps)))
            check(registry, repo, env)
            times["A again"].append(timed(lambda: five(app)))

        def script(rep: int) -> None:
            repo = make_app(root / f"glue{rep}", registry.host, env)
            work = root / f"glue{rep}" / "work"
            work.mkdir()
            step_env = {
                **glue_env,
                "APP": str(repo["app"]),
                "WORK": str(work),
                "IMAGE": str(repo["image"]),
                "CHARTS": str(repo["charts"]),
                "INFRA": str(repo["infra"]),
            }

            def call() -> None:
                done = subprocess.run(["sh", str(glue)], env=step_env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    sys.exit(f"baseline B failed:\n{done.stdout}{done.stderr}")

            times["B"].append(timed(call))
            marks = [line.split() for line in (work / "marks").read_text().splitlines()]
            for (_, before), (step, after) in itertools.pairwise(marks):
                glue_steps.setdefault(step, []).append(float(after) - float(before))
            check(registry, repo, env)

        contenders = [ours_run, ours_five, script]
        for rep in range(args.reps):
            for contender in contenders[rep % 3 :] + contenders[: rep % 3]:
                contender(rep)
        startup = statistics.median(timed(lambda: release(root, env, "--version")) for _ in range(5))
        python_start = statistics.median(
            timed(lambda: subprocess.run([sys.executable, "-c", "import helm_python"], check=True)) for _ in range(5)
        )
        version = podman.cli("--version").stdout.split()[-1]
        med = {k: statistics.median(v) for k, v in times.items()}
        print(f"reps: {args.reps}; podman {version}; registry and infra repositories on loopback / local disk")
        print("| what | median s (min–max) | ÷ A (5 commands) | ÷ B (sh glue) | rerun ÷ first run |")
        print("| --- | ---: | ---: | ---: | ---: |")
        print(row("`release run` (test, images, charts, publish, notes, promote dev)", times["run"],
                  med["run"] / med["A"], med["run"] / med["B"], None))  # fmt: skip
        print(row("A: `release test`, `build --push`, `chart --publish`, `notes`, `promote dev`", times["A"],
                  1.0, med["A"] / med["B"], None))  # fmt: skip
        print(row("B: sh glue (podman, sed, python + helm SDK, git clone + push)", times["B"],
                  med["B"] / med["A"], 1.0, None))  # fmt: skip
        print(row("`release run`, rerun (everything done)", times["run again"],
                  med["run again"] / med["A"], med["run again"] / med["B"], med["run again"] / med["run"]))  # fmt: skip
        print(row("A, rerun (everything done)", times["A again"],
                  med["A again"] / med["A"], med["A again"] / med["B"], med["A again"] / med["A"]))  # fmt: skip
        print(f"| (`release --version`: interpreter start-up, in every process above) | {startup:.2f} | | | |")
        print(f"| (`python -c 'import helm_python'`: B's chart step start-up) | {python_start:.2f} | | | |")
        print("stages of `release run` (its own report, median s): "
              + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in stages.items()))  # fmt: skip
        print("stages of the rerun: " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in rerun_stages.items()))
        print(
            "A, each command (median s): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in five_steps.items())
        )
        print("B, each step (median s): " + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in glue_steps.items()))
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
