"""Supply-chain benchmark: what SBOM (syft), provenance and keyless signing add to `release build --push`.

Four variants of the same work, alternating, each rep on fresh random content and a fresh repository, against the
same loopback registry, Podman service and Sigstore mocks (npm @sigstore/mock, tests/sigstoremock.py):
build + push alone (the baseline), + `provenance: true`, + `sbom: true` (syft on the pushed image), and all of
them + `--sign` (sigstore-python: a Fulcio certificate, two DSSE signatures logged in Rekor, each bundle checked).
A `release` process per run, as a user runs it.

    .venv/bin/python benchmarks/bench_supply.py --reps 5 [--size-mb 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TOP))

from benchmarks.bench_platforms import make_repo  # noqa: E402
from benchmarks.common import engine_and_registry  # noqa: E402
from tests.sigstoremock import SigstoreMock, identity_token  # noqa: E402

VARIANTS = {
    "build + push (baseline)": ("", []),
    "+ provenance": ("    provenance: true\n", []),
    "+ SBOM (syft)": ("    sbom: true\n", []),
    "+ SBOM + provenance + signing": ("    sbom: true\n    provenance: true\n", ["--sign"]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=8, help="size of the layer each build adds")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-supply-"))
    release_bin = str(Path(sys.executable).with_name("release"))
    with (
        engine_and_registry(root) as (registry, _, env),
        SigstoreMock.start(root / "sigstore") as sigstore,
    ):
        env = {
            **env,
            "SIGSTORE_ID_TOKEN": identity_token("bench@example.com", lifetime=3600),
            "RELEASE_SIGSTORE_TRUST_CONFIG": str(sigstore.trust_config),
        }
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for rep in range(args.reps):
            payload = os.urandom(args.size_mb * 1024 * 1024)
            for number, (name, (extra, flags)) in enumerate(VARIANTS.items()):
                repo = root / f"v{number}-{rep}"
                make_repo(repo, f"{registry.host}/bench/v{number}-{rep}", payload + bytes([number]), extra=extra)
                started = time.perf_counter()
                done = subprocess.run(
                    [release_bin, "build", "--push", *flags], cwd=repo, env=env, capture_output=True, text=True
                )
                times[name].append(time.perf_counter() - started)
                if done.returncode != 0:
                    sys.exit(f"{name} failed:\n{done.stderr}")
        base = statistics.median(times["build + push (baseline)"])
        print(f"reps: {args.reps}, layer: {args.size_mb} MiB, 4 tags, single platform")
        print("| what | median s | ratio to build + push | extra s |")
        print("| --- | --- | --- | --- |")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"| {name} | {median:.2f} | {median / base:.2f} | {median - base:+.2f} |")


if __name__ == "__main__":
    main()
