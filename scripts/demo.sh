#!/usr/bin/env bash
# The whole pipeline on the bundled example (examples/app), against a registry and a container engine it
# starts itself on loopback. Installs what it needs first (scripts/setup.sh). Everything lives under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
exec python scripts/demo.py
