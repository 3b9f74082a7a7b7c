#!/usr/bin/env bash
# The whole pipeline on the bundled example (examples/app): builds a demo git repo with a real history,
# then plans, writes notes, and cuts the release into a local "origin". Everything lives under .demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
top=$PWD
work=$top/.demo
rm -rf "$work" && mkdir -p "$work"
export GIT_AUTHOR_NAME="Demo Dev" GIT_AUTHOR_EMAIL="dev@example.com"
export GIT_COMMITTER_NAME="Demo Dev" GIT_COMMITTER_EMAIL="dev@example.com"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "demo repo: examples/app with the history in examples/app/history.txt"
git init -q --bare -b main "$work/origin.git"
git init -q -b main "$work/app"
cd "$work/app"
git remote add origin "$work/origin.git"
rsync -a --exclude history.txt "$top/examples/app/" . 2>/dev/null || (cp -r "$top/examples/app/." . && rm -f history.txt)
n=0
while IFS= read -r line; do
  case "$line" in
    ""|"#"*) continue ;;
    "tag "*) git tag "${line#tag }"; continue ;;
  esac
  n=$((n + 1))
  if [ "$n" -eq 1 ]; then git add -A; else echo "$line" >> src/changes.txt; git add src/changes.txt; fi
  msg=$(printf '%s' "$line" | sed 's/|/\n\n/g')
  git commit -q -m "$msg"
done < "$top/examples/app/history.txt"
git push -q origin main --tags
git log --oneline --decorate

step "release plan"
release plan

step "release notes"
release notes

step "release cut --push"
release cut --push

step "origin now has"
git -C "$work/origin.git" tag --list
git -C "$work/origin.git" log --oneline -1 main

step "release plan (again: nothing to do)"
release plan
