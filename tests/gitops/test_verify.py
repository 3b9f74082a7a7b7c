"""`release promote ENV --wait`, `after: {env, verified: true}` and `release status`'s observed column, against a real
file:// infra repo and the shared fake forge's commit-status and Argo CD endpoints. A fake agent (a thread, like
Flux's notification-controller or Argo CD) watches the infra repo and reports over time: pending, a status on a
later (descendant) commit, failure, Degraded after Healthy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.conftest import Repo
from tests.fakes.forge import DEFAULT_ARGOCD_TOKEN, DEFAULT_GITHUB_TOKEN, DEFAULT_GITLAB_TOKEN, Forge
from tests.gitops.test_promote import INFRA_FILES, git, head, make_infra

FLUX = "kustomization/apps/0c9c2e41"  # notification-controller's name: <kind>/<name>/<provider uid prefix>
TOKENS = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN, "ARGOCD_AUTH_TOKEN": DEFAULT_ARGOCD_TOKEN}
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
environments:
  - name: dev
    repo: {url}
    forge: gitlab
    api: {api}/api/v4
    project: team/infra
    automatic: true
    verify:
{verify}
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
  - name: prod
    repo: {url}
    mode: merge-request
    forge: gitlab
    api: {api}/api/v4
    project: team/infra
    automatic: true
    after: {{env: dev, verified: true}}
    updates:
      - {{file: apps/prod/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""
STATUSES = """\
      commit_status: ["kustomization/apps/*"]
      timeout: {timeout}
      interval: 1
      healthy_for: {healthy_for}
      wait: true"""
ARGO = """\
      argocd: {{server: "{api}", applications: [app-dev]{project}}}
      timeout: {timeout}
      interval: 1
      healthy_for: {healthy_for}"""


@pytest.fixture
def infra(tmp_path: Path) -> Path:
    return make_infra(tmp_path, INFRA_FILES)


def setup(repo: Repo, infra: Path, forge: Forge, verify: str = STATUSES, **kw: object) -> Repo:
    fields = {"timeout": 20, "healthy_for": 0, "project": "", "api": forge.url, **kw}
    text = CONFIG.format(url=f"file://{infra}", api=forge.url, verify=verify.format(**fields))
    repo.commit("chore: release config", {"release.yaml": text})
    repo.git("tag", "-f", "v1.4.0")  # a second setup in a test moves it
    return repo


def record(infra: Path, version: str = "1.4.0") -> str | None:
    """The dev commit that promoted `version`, once it is on main."""
    out = git(infra, "log", "-1", "--format=%H", "-F", f"--grep=Release-Version: {version}", "main", "--", "apps/dev")
    return out or None


def push_later_commit(infra: Path, tmp: Path, files: dict[str, str] | None = None) -> str:
    """Someone else's commit on main after ours (the agent reconciles the head: it reports on this one)."""
    work = tmp / f"other-{time.monotonic_ns()}"
    subprocess.run(["git", "clone", "-q", str(infra), str(work)], check=True)
    for name, text in (files or {"README.md": "other team\n"}).items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text, encoding="utf-8")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "chore: another team's change")
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def agent(infra: Path, script: Callable[[str], None]) -> threading.Thread:
    """A fake GitOps agent: once our promote is on main, it runs `script(record commit)` (which sleeps and
    reports as the real one would, over time)."""
    failures: list[BaseException] = []

    def run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = record(infra)
            if found:
                try:
                    script(found)
                except BaseException as exc:  # the test asserts on it
                    failures.append(exc)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    return thread


def status_calls(forge: Forge, sha: str) -> int:
    return len(forge.calls("GET", rf"/repository/commits/{sha}/statuses$"))


def test_wait_reads_the_status_the_agent_posts_on_a_later_commit(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge)
    later: list[str] = []

    def flux(ours: str) -> None:
        forge.gitlab_statuses.post(ours, "pending", "ci/lint", "yaml lint")  # not the agent: ignored by name
        time.sleep(1.5)
        later.append(push_later_commit(infra, tmp_path))
        time.sleep(1.5)
        forge.gitlab_statuses.post(later[0], "success", FLUX, "reconciliation succeeded")

    fake = agent(infra, flux)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 0, result.err
    lines = result.err.strip().splitlines()
    assert any(line.startswith("dev: waiting for 1.4.0: pending: no kustomization/apps/* yet") for line in lines), lines
    assert lines[-1].startswith(f"dev: 1.4.0 deployed and healthy ({FLUX}, ")
    assert lines[-1].endswith(" s)")
    assert status_calls(forge, later[0]) >= 1  # the descendant was asked
    assert result.out.strip() == f"dev 1.4.0 {record(infra)}"


def test_failure_status_exits_1_with_the_agents_message_and_the_promote_stays(repo, release, infra, forge):
    app = setup(repo, infra, forge)
    fake = agent(infra, lambda ours: forge.gitlab_statuses.post(ours, "failed", FLUX, "health check failed after 30s"))
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(f"release: error: dev: 1.4.0 failed: {FLUX}: health check failed after 30s")
    assert "Traceback" not in result.err
    assert record(infra) == head(infra)  # the infra repo stays as promoted


def test_a_status_that_never_comes_times_out(repo, release, infra, forge):
    app = setup(repo, infra, forge, timeout=2)
    started = time.monotonic()
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error: dev: 1.4.0 not confirmed in 2 s (last: pending: no kustomization/apps/*")
    assert time.monotonic() - started < 15
    assert record(infra) == head(infra)


def test_a_later_commit_that_changes_our_value_does_not_count(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge, timeout=4)

    def flux(ours: str) -> None:
        text = (infra.parent / "infra.git-seed" / "apps/dev/app/values.yaml").read_text(encoding="utf-8")
        newer = push_later_commit(infra, tmp_path, {"apps/dev/app/values.yaml": text.replace("1.0.0", "9.9.9")})
        forge.gitlab_statuses.post(newer, "success", FLUX, "reconciliation succeeded")  # about 9.9.9, not ours

    fake = agent(infra, flux)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 1, result.err
    assert "not confirmed in 4 s" in result.err.strip().splitlines()[-1]


def test_healthy_must_last_and_degraded_after_healthy_fails(repo, release, infra, forge):
    app = setup(repo, infra, forge, verify=ARGO, healthy_for=3)

    def argo(ours: str) -> None:
        forge.argocd.set("app-dev", revision=ours, phase="Running", health="Progressing", sync="Synced")
        time.sleep(1.2)
        forge.argocd.set("app-dev", revision=ours)  # Synced, Healthy
        time.sleep(1.5)
        forge.argocd.set("app-dev", revision=ours, health="Degraded", health_message="Back-off restarting container")

    forge.argocd.set("app-dev", revision="0" * 40)  # the release before ours
    fake = agent(infra, argo)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 1, result.err
    assert "dev: waiting for 1.4.0: healthy: app-dev: Synced, Healthy" in result.err
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("release: error: dev: 1.4.0 failed: app-dev: Degraded: Back-off restarting container")
    gets = forge.calls("GET", r"/api/v1/applications/app-dev$")
    assert gets[0].header("Authorization") == f"Bearer {DEFAULT_ARGOCD_TOKEN}"
    assert any(r.query.get("refresh") == ["normal"] for r in gets)


def test_argocd_synced_and_healthy_confirms(repo, release, infra, forge):
    app = setup(repo, infra, forge, verify=ARGO)
    forge.argocd.set("app-dev", revision="0" * 40)
    fake = agent(infra, lambda ours: forge.argocd.set("app-dev", revision=ours))
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 0, result.err
    assert result.err.strip().splitlines()[-1].startswith("dev: 1.4.0 deployed and healthy (argocd app-dev, ")


def test_an_unknown_application_is_one_line_before_anything_is_pushed(repo, release, infra, forge):
    app = setup(repo, infra, forge, verify=ARGO)
    before = head(infra)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    assert result.code == 1
    assert result.err.strip().splitlines() == [result.err.strip()]  # one line
    assert "denied reading application app-dev (HTTP 403 permission denied)" in result.err
    assert "does not exist" in result.err
    assert head(infra) == before  # nothing pushed
    app2 = setup(repo, infra, forge, verify=ARGO, project=", project: default")
    result = release(app2, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    assert result.code == 1
    assert "has no application app-dev (HTTP 404)" in result.err and len(result.err.strip().splitlines()) == 1


def test_tokens_without_read_rights_or_absent_are_one_line_and_masked(repo, release, infra, forge):
    app = setup(repo, infra, forge)
    forge.gitlab_statuses.no_read_tokens = {"glpat-no-read-api-1234"}
    no_read = {"GITLAB_TOKEN": "glpat-no-read-api-1234"}
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=no_read)
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "rejected the token (GITLAB_TOKEN)" in last and "HTTP 403" in last and "read_api" in last
    assert "glpat-no-read-api-1234" not in result.err + result.out
    argo = setup(repo, infra, forge, verify=ARGO)
    wrong = {"ARGOCD_AUTH_TOKEN": "wrong-token-99"}
    result = release(argo, "promote", "dev", "--version", "1.4.0", "--wait", env=wrong)
    assert result.code == 1 and len(result.err.strip().splitlines()) == 1
    assert "rejected the token (ARGOCD_AUTH_TOKEN)" in result.err and "wrong-token-99" not in result.err
    result = release(argo, "promote", "dev", "--version", "1.4.0", "--wait")
    assert result.code == 1 and "ARGOCD_AUTH_TOKEN is not set" in result.err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_stops_the_wait_and_leaves_the_promote(repo, infra, forge, sig, code):
    app = setup(repo, infra, forge)
    env = {**os.environ, **TOKENS, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "release", "promote", "dev", "--version", "1.4.0", "--wait"]
    proc = subprocess.Popen(args, cwd=app.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while record(infra) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # waiting now
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert "stopped waiting after" in err and "1.4.0 stays promoted" in err
    assert record(infra) == head(infra)


# --- the whole pipeline: release → promote dev, wait → the agent confirms → only then the production MR ---------


def post_status(forge: Forge, sha: str, state: str, description: str) -> None:
    """What Flux's notification-controller does (gitlab Provider): POST /projects/:id/statuses/:sha."""
    response = requests.post(
        f"{forge.url}/api/v4/projects/team%2Finfra/statuses/{sha}",
        headers={"PRIVATE-TOKEN": DEFAULT_GITLAB_TOKEN},
        json={"state": state, "name": FLUX, "description": description, "ref": "main"},
        timeout=10,
    )
    assert response.status_code == 201, response.text


def test_release_run_waits_for_dev_then_opens_the_production_merge_request(repo, release, infra, forge, tmp_path):
    text = CONFIG.format(url=f"file://{infra}", api=forge.url, verify=STATUSES.format(timeout=30, healthy_for=1))
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": text, ".gitignore": ".release/\n"})
    repo.tag("v1.3.0")
    repo.commit("feat(api): add the search endpoint", {"app.txt": "v2"})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main", "--tags")
    later: list[str] = []

    def flux(ours: str) -> None:
        post_status(forge, ours, "pending", "reconciliation in progress")  # Flux posts none; Argo CD's may
        time.sleep(1.5)
        assert not forge.merge_requests.mrs, "the production MR was opened before dev was confirmed"
        later.append(push_later_commit(infra, tmp_path))
        time.sleep(1.2)
        post_status(forge, later[0], "success", "reconciliation succeeded")

    fake = agent(infra, flux)
    result = release(repo, "run", env=TOKENS)
    fake.join()
    assert not fake.failures, fake.failures  # type: ignore[attr-defined]
    assert result.code == 0, result.err
    assert result.out.strip() == "1.4.0"
    assert f"dev: 1.4.0 deployed and healthy ({FLUX}, " in result.err
    (mr,) = forge.merge_requests.mrs["7"]
    assert mr["source_branch"] == "release/prod/1.4.0"
    order = [(r.method, r.path) for r in forge.requests]
    confirmed = order.index(("POST", f"/api/v4/projects/team%2Finfra/statuses/{later[0]}"))
    opened = order.index(("POST", "/api/v4/projects/team%2Finfra/merge_requests"))
    assert confirmed < opened
    shown = release(repo, "status", "--json", env=TOKENS)
    assert shown.code == 0, shown.err
    dev, prod = json.loads(shown.out)
    assert dev["observed"] == {
        "state": "healthy",
        "detail": f"{FLUX}: reconciliation succeeded",
        "source": FLUX,
        "commit": later[0],
    }
    assert prod["observed"]["state"] == "unknown" and prod["observed"]["detail"] == "no verify configured"
    lines = release(repo, "status", env=TOKENS).out.splitlines()
    assert lines[0].split("\t")[6] == f"healthy ({FLUX}: reconciliation succeeded on {later[0][:12]})"
    assert lines[1].split("\t")[6] == "unknown (no verify configured)"


def test_production_waits_while_dev_is_not_confirmed(repo, release, infra, forge):
    app = setup(repo, infra, forge)
    assert release(app, "promote", "dev", "--version", "1.4.0", env=TOKENS).code == 0  # promoted, no --wait
    result = release(app, "promote", "prod", "--version", "1.4.0", env=TOKENS)
    assert result.code == 1
    assert "prod is promoted after dev is verified, and dev's agent has not confirmed 1.4.0 yet (pending:" in result.err
    assert "release promote dev --version 1.4.0 --wait" in result.err
    assert not forge.merge_requests.mrs
    forge.gitlab_statuses.post(record(infra) or "", "failed", FLUX, "kustomize build failed")
    status = json.loads(release(app, "status", "--json", env=TOKENS).out)
    assert status[0]["observed"]["state"] == "failed"
    assert status[0]["observed"]["detail"] == f"{FLUX}: kustomize build failed"
    assert release(app, "promote", "prod", "--version", "1.4.0", env=TOKENS).code == 1
    forge.gitlab_statuses.post(record(infra) or "", "success", FLUX, "reconciliation succeeded")
    result = release(app, "promote", "prod", "--version", "1.4.0", env=TOKENS)
    assert result.code == 0, result.err
    assert len(forge.merge_requests.mrs["7"]) == 1


def test_status_without_a_token_says_it_cannot_tell(repo, release, infra, forge):
    app = setup(repo, infra, forge)
    assert release(app, "promote", "dev", "--version", "1.4.0", env=TOKENS).code == 0
    shown = release(app, "status", "--json")
    assert shown.code == 0, shown.err
    observed = json.loads(shown.out)[0]["observed"]
    assert observed["state"] == "unknown"
    assert observed["detail"].startswith("cannot tell: environment dev: verify (commit statuses) needs a GitLab token")


# --- merge-request mode: the wait starts with the merge ---------------------------------------------------------


MR_ENV = """\
environments:
  - name: dev
    repo: {url}
    mode: merge-request
    forge: {kind}
    api: {api}
    project: team/infra
    verify: {{commit_status: ["kustomization/apps/*"], timeout: 20, interval: 1}}
    updates:
      - {{file: apps/dev/app/values.yaml, set: {{image.tag: "{{version}}"}}}}
"""


def merge(infra: Path, tmp: Path, branch: str) -> str:
    """Someone merges the merge request (a merge commit on main), as the forge's merge button does."""
    work = tmp / f"merge-{time.monotonic_ns()}"
    subprocess.run(["git", "clone", "-q", str(infra), str(work)], check=True)
    git(work, "merge", "-q", "--no-ff", "-m", f"Merge branch '{branch}' into 'main'", f"origin/{branch}")
    git(work, "push", "-q", "origin", "HEAD:main")
    return git(work, "rev-parse", "HEAD")


def mr_opened(forge: Forge, kind: str) -> dict | None:  # type: ignore[type-arg]
    found = forge.merge_requests.mrs.get("7") if kind == "gitlab" else forge.pulls.prs.get("team/infra")
    return found[0] if found else None


def when_opened(forge: Forge, kind: str, script: Callable[[dict], None]) -> threading.Thread:  # type: ignore[type-arg]
    def run() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = mr_opened(forge, kind)
            if found is not None:
                script(found)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("kind", ["gitlab", "github"])
def test_merge_request_mode_waits_for_the_merge_then_the_agent(repo, release, infra, forge, tmp_path, kind):
    api = f"{forge.url}/api/v4" if kind == "gitlab" else forge.url
    repo.commit("chore: release config", {"release.yaml": MR_ENV.format(url=f"file://{infra}", api=api, kind=kind)})
    repo.tag("v1.4.0")
    merged: list[str] = []

    def someone(mr: dict) -> None:  # type: ignore[type-arg]
        time.sleep(1.5)
        merged.append(merge(infra, tmp_path, "release/dev/1.4.0"))
        if kind == "gitlab":
            mr["state"] = "merged"
            forge.gitlab_statuses.post(merged[0], "success", FLUX, "reconciliation succeeded")
        else:
            mr["state"], mr["merged_at"] = "closed", "2026-01-01T00:00:00Z"
            forge.github_statuses.post(merged[0], "success", FLUX, "reconciliation succeeded")

    fake = when_opened(forge, kind, someone)
    env = {"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN} if kind == "gitlab" else {"GITHUB_TOKEN": DEFAULT_GITHUB_TOKEN}
    result = release(repo, "promote", "dev", "--version", "1.4.0", "--wait", env=env)
    fake.join()
    assert result.code == 0, result.err
    mr = mr_opened(forge, kind)
    assert mr is not None
    assert (
        f"dev: waiting for 1.4.0: pending: waits for the merge of {mr['web_url' if kind == 'gitlab' else 'html_url']}"
        in result.err
    )
    assert result.err.strip().splitlines()[-1].startswith(f"dev: 1.4.0 deployed and healthy ({FLUX}, ")
    if kind == "github":
        assert forge.calls("GET", rf"/repos/team/infra/commits/{merged[0]}/status$")


def test_a_merge_request_closed_without_merging_ends_the_wait(repo, release, infra, forge, tmp_path):
    text = MR_ENV.format(url=f"file://{infra}", api=f"{forge.url}/api/v4", kind="gitlab")
    repo.commit("chore: release config", {"release.yaml": text})
    repo.tag("v1.4.0")

    def someone(mr: dict) -> None:  # type: ignore[type-arg]
        time.sleep(1.2)
        mr["state"] = "closed"

    fake = when_opened(forge, "gitlab", someone)
    result = release(repo, "promote", "dev", "--version", "1.4.0", "--wait", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    fake.join()
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "dev: 1.4.0 failed: the merge request" in last and "was closed without merging" in last


def test_a_dry_run_waits_for_nothing(repo, release, infra, forge):
    app = setup(repo, infra, forge)
    before = head(infra)
    started = time.monotonic()
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", "--dry-run", env=TOKENS)
    assert result.code == 0, result.err
    assert "would wait for dev to run 1.4.0" in result.err
    assert head(infra) == before and time.monotonic() - started < 10
    assert not forge.calls("GET", r"/statuses$")


def test_the_argocd_token_appears_nowhere(repo, release, infra, forge):
    token = "argocd-canary-" + os.urandom(12).hex()
    forge.argocd.tokens.add(token)
    app = setup(repo, infra, forge, verify=ARGO, timeout=3)
    forge.argocd.set("app-dev", revision="0" * 40)
    fake = agent(
        infra, lambda ours: forge.argocd.set("app-dev", revision=ours, health="Degraded", health_message=token[:6])
    )
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env={"ARGOCD_AUTH_TOKEN": token})
    fake.join()
    assert result.code == 1, result.err
    assert forge.calls("GET", r"/api/v1/applications/app-dev$")[-1].header("Authorization") == f"Bearer {token}"
    files = [p.read_text(errors="replace") for p in (app.path / ".release").rglob("*") if p.is_file()]
    logs = git(infra, "log", "-p", "--all")
    for text in [result.out, result.err, logs, *files]:
        assert token not in text


def test_release_run_checks_what_the_wait_reads_before_publishing(repo, release, infra, forge, tmp_path):
    verify = ARGO.format(api=forge.url, project="", timeout=20, healthy_for=0) + "\n      wait: true"
    text = CONFIG.format(url=f"file://{infra}", api=forge.url, verify=verify)
    repo.commit("feat: first", {"app.txt": "v1", "release.yaml": text, ".gitignore": ".release/\n"})
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    repo.git("remote", "add", "origin", str(origin))
    repo.git("push", "-q", "origin", "main")
    before = head(infra)
    result = release(repo, "run", env={"GITLAB_TOKEN": DEFAULT_GITLAB_TOKEN})
    assert result.code == 1
    last = result.err.strip().splitlines()[-1]
    assert "environment dev: verify.argocd needs a token, and ARGOCD_AUTH_TOKEN is not set" in last
    assert git(origin, "tag", "-l") == ""  # nothing published
    assert head(infra) == before
    result = release(repo, "run", env={"ARGOCD_AUTH_TOKEN": DEFAULT_ARGOCD_TOKEN})
    assert result.code == 1
    assert "denied reading application app-dev" in result.err.strip().splitlines()[-1]
    assert git(origin, "tag", "-l") == ""


def test_a_failure_on_a_later_commit_after_success_on_ours_fails_the_wait(repo, release, infra, forge, tmp_path):
    app = setup(repo, infra, forge, healthy_for=4)

    def flux(ours: str) -> None:
        forge.gitlab_statuses.post(ours, "success", FLUX, "reconciliation succeeded")
        time.sleep(1.5)
        later = push_later_commit(infra, tmp_path)  # still holds 1.4.0; its reconcile breaks
        forge.gitlab_statuses.post(later, "failed", FLUX, "dry-run failed: Service/other is invalid")

    fake = agent(infra, flux)
    result = release(app, "promote", "dev", "--version", "1.4.0", "--wait", env=TOKENS)
    fake.join()
    assert result.code == 1, result.err
    assert "dev: waiting for 1.4.0: healthy: " in result.err  # healthy first, not for long enough
    last = result.err.strip().splitlines()[-1]
    assert last.startswith(f"release: error: dev: 1.4.0 failed: {FLUX}: dry-run failed: Service/other is invalid")
