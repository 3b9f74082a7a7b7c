#!/usr/bin/env bash
# Sets up (scripts/setup.sh) and runs every check: ruff, mypy, the import contracts, then the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff" >&2
ruff check release tests benchmarks
echo "== mypy" >&2
mypy release
echo "== import contracts (pyproject.toml [tool.importlinter], ARCHITECTURE.md)" >&2
lint-imports --no-cache
echo "== pytest" >&2
exec python -m pytest "$@"
