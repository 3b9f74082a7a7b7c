#!/usr/bin/env bash
# Installs everything the demo and the tests need, idempotently: Debian packages, a project-local
# virtualenv (.venv) with release and its test tools. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

if command -v dpkg >/dev/null 2>&1; then
  apt_install git ca-certificates rsync
  # The real services the tests and the demo run on loopback: registry, Podman's Docker API, busybox.
  scripts/install-services.sh
  # The CI tools the template tests run: gitlab-ci-local (npm; needs Node and rsync) runs the GitLab
  # templates with the shell executor, shellcheck checks their scripts and the action's.
  command -v node >/dev/null 2>&1 || apt_install nodejs
  command -v npm >/dev/null 2>&1 || apt_install npm   # a nodejs that bundles npm provides it already
  apt_install shellcheck
  GITLAB_CI_LOCAL_VERSION=4.66.1
  if [ "$(gitlab-ci-local --version 2>/dev/null)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
    echo "setup: installing gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION (npm)" >&2
    npm install --global --no-fund --no-audit --loglevel=error "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION" >/dev/null
    [ "$(gitlab-ci-local --version)" = "$GITLAB_CI_LOCAL_VERSION" ] || { echo "setup: gitlab-ci-local did not install" >&2; exit 1; }
  fi
  # The Sigstore project's mocks (Fulcio, Rekor, TSA) and its JavaScript verifier, for the signing tests
  # (tests/sigstoremock.py); versions pinned by tests/sigstore/package-lock.json. Reinstalled when the lock changes.
  lock_stamp=$(sha256sum tests/sigstore/package-lock.json | cut -d' ' -f1)
  if [ "$(cat tests/sigstore/node_modules/.release-stamp 2>/dev/null)" != "$lock_stamp" ]; then
    echo "setup: installing the Sigstore mocks and verifier (npm, tests/sigstore)" >&2
    (cd tests/sigstore && npm ci --no-fund --no-audit --loglevel=error >/dev/null)
    echo "$lock_stamp" > tests/sigstore/node_modules/.release-stamp
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    apt_install python3-venv
    rm -rf .venv && "$PYTHON" -m venv .venv
  fi
fi
# Reinstall only when the dependencies changed (the stamp is pyproject.toml's hash).
stamp=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat .venv/.release-stamp 2>/dev/null)" != "$stamp" ] || [ ! -x .venv/bin/release ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,bench]"
  echo "$stamp" > .venv/.release-stamp
fi
echo "setup: ready (.venv/bin/release)" >&2
