"""Umbrella chart benchmark: an umbrella with 3 dependencies (two classic index.yaml repositories and an OCI
registry, all on loopback), pinned by a Chart.lock. `release chart --publish` (fetch the dependencies, bump,
package, lint, render, push) against Helm's own flow: pulls of the 3 locked versions (the SDK's `dependency
build` cannot be given the registry's login), `lint`, `package` and `push` (helm-python-sdk: Helm v4's Go code,
in-process), same repositories, same registry, same run; then our rerun (already published).

    .venv/bin/python benchmarks/bench_chart_deps.py --reps 5
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from benchmarks import common  # noqa: E402
from benchmarks.common import timed  # noqa: E402
from release.charts import package as chartpkg  # noqa: E402
from tests.services import Registry  # noqa: E402

DEPENDENCY_TEMPLATE = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-{{ .Chart.Version }}-%d\n"


def dependency(root: Path, name: str, version: str) -> Path:
    """A dependency chart with 20 small templates, packaged by us into `root`."""
    src = root / "src" / f"{name}-{version}"
    (src / "templates").mkdir(parents=True)
    (src / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (src / "values.yaml").write_text("replicas: 1\n")
    for n in range(20):
        (src / "templates" / f"cm-{n}.yaml").write_text(DEPENDENCY_TEMPLATE % n)
    meta, archive = chartpkg.package(src, mtime=0)
    (root / chartpkg.archive_name(meta)).write_bytes(archive)
    return src


def serve(directory: Path) -> str:
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(directory))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{httpd.server_address[1]}"


def make_repo(path: Path, name: str, chart_yaml: str, lock: str, registry: str) -> Path:
    chart = path / "charts" / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(chart_yaml.replace("NAME", name))
    (chart / "Chart.lock").write_text(lock)
    (chart / "values.yaml").write_text("alpha:\n  replicas: 2\n")
    (chart / "templates" / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: umbrella\n")
    (path / "release.yaml").write_text(f'charts:\n  - path: charts/{name}\n    publish: ["oci://{registry}/bench"]\n')
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "-A"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "feat: umbrella"],
    ):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return chart


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-chart-deps-"))
    release_bin = str(Path(sys.executable).with_name("release"))
    with Registry.start(root / "registry") as registry:
        import helm_python

        client = helm_python.RegistryClient(plain_http=True, credentials_file=str(root / "helm-registry.json"))
        client.login(registry.host, registry.user, registry.password, plain_http=True)
        one, two = root / "repo-one", root / "repo-two"
        for folder, name in ((one, "alpha"), (two, "gamma")):
            folder.mkdir()
            dependency(folder, name, "1.0.0")
            helm_python.repo_index_generate(str(folder))
        (root / "oci").mkdir()
        dependency(root / "oci", "beta", "1.0.0")
        client.push(str(root / "oci" / "beta-1.0.0.tgz"), f"oci://{registry.host}/deps")
        url_one, url_two = serve(one), serve(two)
        chart_yaml = (
            "apiVersion: v2\nname: NAME\nversion: 0.0.1\nappVersion: '9.22.1'\ndependencies:\n"
            f"  - name: alpha\n    version: ^1.0.0\n    repository: {url_one}\n"
            f"  - name: beta\n    version: ^1.0.0\n    repository: oci://{registry.host}/deps\n"
            f"  - name: gamma\n    version: ^1.0.0\n    repository: {url_two}\n"
        )
        env = {**os.environ, "PYTHONPATH": str(TOP)}
        env.update(RELEASE_REGISTRY_USER=registry.user, RELEASE_REGISTRY_PASSWORD=registry.password)
        seed = make_repo(root / "seed", "seed", chart_yaml, "", registry.host)
        (seed / "Chart.lock").unlink()
        subprocess.run([release_bin, "chart", "deps"], cwd=seed.parent.parent, env=env, check=True, capture_output=True)
        lock = (seed / "Chart.lock").read_text()
        helm_times, ours, reruns = [], [], []
        for rep in range(args.reps):
            chart_dir = make_repo(root / f"helm-{rep}", f"helm{rep}", chart_yaml, lock, registry.host)

            def helm_flow(chart_dir: Path = chart_dir) -> None:
                # The SDK's dependency build cannot be given the registry login ("basic credential not found"),
                # so the baseline fetches the locked versions itself: two classic pulls and one OCI pull.
                charts = str(chart_dir / "charts")
                (chart_dir / "charts").mkdir()
                helm_python.pull("alpha", repo_url=url_one, version="1.0.0", destination=charts)
                client.pull(f"oci://{registry.host}/deps/beta", version="1.0.0", destination=charts, plain_http=True)
                helm_python.pull("gamma", repo_url=url_two, version="1.0.0", destination=charts)
                helm_python.lint(str(chart_dir))  # we lint before publishing: so does the baseline
                archive = helm_python.package(str(chart_dir), destination=str(chart_dir.parent))
                client.push(archive, f"oci://{registry.host}/bench")

            helm_times.append(timed(helm_flow))
            repo = make_repo(root / f"ours-{rep}", f"ours{rep}", chart_yaml, lock, registry.host).parent.parent

            def ours_flow(repo: Path = repo) -> None:
                subprocess.run([release_bin, "chart", "--publish"], cwd=repo, env=env, check=True, capture_output=True)

            ours.append(timed(ours_flow))
            reruns.append(timed(ours_flow))
        h, o, r = (statistics.median(x) for x in (helm_times, ours, reruns))
        startup = common.startup(release_bin)
        print(f"reps: {args.reps}, umbrella with 3 dependencies (2 classic repositories, 1 OCI), Chart.lock committed")
        print("| what | median s | ratio to helm pull ×3 + lint + package + push |")
        print("| --- | --- | --- |")
        print(f"| helm pull ×3 + lint + package + push (Helm v4 SDK, in-process) | {h:.2f} | 1.00 |")
        print(f"| release chart --publish (fetch, bump, package, lint, render, push) | {o:.2f} | {o / h:.2f} |")
        print(f"| release chart --publish, rerun (already published) | {r:.2f} | {r / h:.2f} |")
        print(f"| (release --version: interpreter start-up, included above) | {startup:.2f} | {startup / h:.2f} |")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
