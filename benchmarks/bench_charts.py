"""Charts benchmark: `release chart --publish` of a large chart (1,000 templates) against Helm's own
`helm package` + `helm push` (helm-python-sdk: Helm v4's Go code) of the same chart, same registry, same run.
Then the rerun, which should find the version published: we count its HTTP requests by method.

    .venv/bin/python benchmarks/bench_charts.py --reps 5 [--templates 1000]
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from tests.services import Registry  # noqa: E402

TEMPLATE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{{{ .Release.Name }}}}-cm-{n}
  labels:
    app.kubernetes.io/name: {{{{ .Chart.Name }}}}
data:
  index: "{n}"
  image: "{{{{ .Values.image.repository }}}}:{{{{ .Values.image.tag }}}}"
  payload: "{payload}"
"""


def make_repo(path: Path, name: str, templates: int, registry: str) -> None:
    chart = path / "charts" / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.0.1\nappVersion: '0.0.1'\n")
    (chart / "values.yaml").write_text("image:\n  repository: r.example/app\n  tag: '0.0.0'\n")
    for n in range(templates):
        (chart / "templates" / f"cm-{n:04d}.yaml").write_text(TEMPLATE.format(n=n, payload="x" * 512))
    (path / "release.yaml").write_text(
        f'charts:\n  - path: charts/{name}\n    values: {{image.tag: "{{version}}"}}\n'
        f'    publish: ["oci://{registry}/bench"]\n'
    )
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feat: chart"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def count_rerun_requests(repo: Path, env: dict[str, str]) -> collections.Counter[str]:
    """Run `release chart --publish` in-process and count the HTTP requests it sends, by method."""
    from release.cli import main

    seen: collections.Counter[str] = collections.Counter()
    original = requests.Session.request

    def counting(self, method, url, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen[method.upper()] += 1
        return original(self, method, url, *args, **kwargs)

    old_env, old_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env)
    os.chdir(repo)
    requests.Session.request = counting  # type: ignore[method-assign]
    try:
        main(["chart", "--publish"])
    except SystemExit:
        pass
    finally:
        requests.Session.request = original  # type: ignore[method-assign]
        os.chdir(old_cwd)
        os.environ.clear()
        os.environ.update(old_env)
    return seen


def main() -> None:
    import helm_python

    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--templates", type=int, default=1000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-charts-"))
    release_bin = str(Path(sys.executable).with_name("release"))
    with Registry.start(root / "registry") as registry:
        env = {**os.environ, "RELEASE_REGISTRY_USER": registry.user, "RELEASE_REGISTRY_PASSWORD": registry.password}
        creds = root / "helm-registry.json"
        client = helm_python.RegistryClient(plain_http=True, credentials_file=str(creds))
        client.login(registry.host, registry.user, registry.password, plain_http=True)
        helm_times, ours, reruns, sizes = [], [], [], []
        for rep in range(args.reps):
            plain = root / f"helm-{rep}"
            make_repo(plain, f"helm{rep}", args.templates, registry.host)
            chart_dir = plain / "charts" / f"helm{rep}"

            def helm_flow(chart_dir: Path = chart_dir, out: Path = plain) -> None:
                helm_python.lint(str(chart_dir))  # we lint before publishing: so does the baseline
                archive = helm_python.package(str(chart_dir), destination=str(out))
                client.push(archive, f"oci://{registry.host}/bench")

            helm_times.append(timed(helm_flow))
            repo = root / f"ours-{rep}"
            make_repo(repo, f"ours{rep}", args.templates, registry.host)

            def ours_flow(repo: Path = repo) -> None:
                subprocess.run([release_bin, "chart", "--publish"], cwd=repo, env=env, check=True, capture_output=True)

            ours.append(timed(ours_flow))
            reruns.append(timed(ours_flow))
            sizes.append((repo / ".release/charts" / f"ours{rep}-0.1.0.tgz").stat().st_size)
        requests_seen = count_rerun_requests(root / "ours-0", env)
        h, o, r = (statistics.median(x) for x in (helm_times, ours, reruns))
        print(f"reps: {args.reps}, templates: {args.templates}, archive: {statistics.median(sizes) / 1024:.0f} KiB")
        startup = statistics.median(
            timed(lambda: subprocess.run([release_bin, "--version"], check=True, capture_output=True)) for _ in range(3)
        )
        print("| what | median s | ratio to helm lint + package + push |")
        print("| --- | --- | --- |")
        print(f"| helm lint + package + push (Helm v4 SDK, in-process) | {h:.2f} | 1.00 |")
        print(f"| release chart --publish (bump, package, lint, schema, render, push) | {o:.2f} | {o / h:.2f} |")
        print(f"| release chart --publish, rerun (already published) | {r:.2f} | {r / h:.2f} |")
        print(f"| (release --version: interpreter start-up, included above) | {startup:.2f} | {startup / h:.2f} |")
        print(f"rerun HTTP requests by method: {dict(sorted(requests_seen.items()))}")


if __name__ == "__main__":
    main()
