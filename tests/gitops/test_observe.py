"""gitops/observe.py: what commit statuses and Argo CD applications say about a release (pure)."""

from __future__ import annotations

from release.adapters.argocd import Application, parse
from release.adapters.forge import CommitStatus
from release.gitops.observe import Observation, combine, from_application, from_statuses

OURS, LATER, OTHER = "a" * 40, "b" * 40, "c" * 40
FLUX = "kustomization/apps/0c9c2e41"


def statuses(table: dict[str, list[CommitStatus]]):  # type: ignore[no-untyped-def]
    asked: list[str] = []

    def of(sha: str) -> list[CommitStatus] | None:
        asked.append(sha)
        return table.get(sha)

    return of, asked


def test_the_newest_holding_commit_with_the_name_decides_and_older_ones_are_not_asked():
    of, asked = statuses(
        {LATER: [CommitStatus(FLUX, "failed", "health check failed")], OURS: [CommitStatus(FLUX, "success")]}
    )
    seen = from_statuses(["kustomization/apps/*"], [LATER, OURS], of)
    assert seen == Observation("failed", f"{FLUX}: health check failed", FLUX, LATER)
    assert asked == [LATER]


def test_a_name_found_only_on_an_older_holding_commit_counts():
    of, _ = statuses({LATER: [CommitStatus("ci/lint", "failed")], OURS: [CommitStatus(FLUX, "success", "ok")]})
    assert from_statuses([FLUX], [LATER, OURS], of) == Observation("healthy", f"{FLUX}: ok", FLUX, OURS)


def test_every_required_name_must_succeed():
    helm = "helmrelease/app/0c9c2e41"
    of, _ = statuses({OURS: [CommitStatus(FLUX, "success")]})
    seen = from_statuses([FLUX, "helmrelease/*"], [OURS], of)
    assert (seen.state, seen.detail) == (
        "pending",
        f"no helmrelease/* yet on {OURS[:12]} or the commits before it that hold it",
    )
    of, _ = statuses({OURS: [CommitStatus(FLUX, "success"), CommitStatus(helm, "running")]})
    assert from_statuses([FLUX, "helmrelease/*"], [OURS], of).detail == f"{helm}: running"
    of, _ = statuses({OURS: [CommitStatus(FLUX, "success"), CommitStatus(helm, "success")]})
    assert from_statuses([FLUX, "helmrelease/*"], [OURS], of).state == "healthy"


def test_without_names_any_status_counts_and_github_states_are_read():
    of, _ = statuses({OURS: [CommitStatus("argocd/app-dev", "error", "sync failed")]})
    assert from_statuses([], [OURS], of).state == "failed"
    of, _ = statuses({OURS: [CommitStatus("argocd/app-dev", "pending")]})
    assert from_statuses([], [OURS], of).state == "pending"
    of, _ = statuses({})  # an unknown commit (None) is no status
    seen = from_statuses([], [OURS], of)
    assert seen == Observation("pending", f"no status yet on {OURS[:12]} or the commits before it that hold it")


def app(revision: str, **kw: str) -> Application:
    fields = {"sync": "Synced", "health": "Healthy", "phase": "Succeeded", "operation_revision": revision, **kw}
    return Application("app-dev", revision, **fields)  # type: ignore[arg-type]


def test_argocd_application_states():
    holding = [LATER, OURS]
    assert from_application(app(OTHER), holding).state == "pending"
    assert "syncing" in from_application(app(OTHER, phase="Running"), holding).detail
    assert from_application(app(LATER), holding) == Observation(
        "healthy", "app-dev: Synced, Healthy", "argocd app-dev", LATER
    )
    degraded = from_application(app(OURS, health="Degraded", health_message="Back-off restarting"), holding)
    assert (degraded.state, degraded.detail) == ("failed", "app-dev: Degraded: Back-off restarting")
    failed = from_application(app(OURS, phase="Failed", operation_message="one or more objects failed"), holding)
    assert (failed.state, failed.detail) == ("failed", "app-dev: sync Failed: one or more objects failed")
    assert from_application(app(OURS, health="Progressing"), holding).state == "pending"
    assert from_application(app(OURS, sync="OutOfSync"), holding).state == "pending"


def test_combine_and_the_documented_application_json():
    ok = Observation("healthy", "a", "argocd a", OURS)
    assert combine([ok, Observation("pending", "b")]).state == "pending"
    assert combine([ok, Observation("failed", "c")]).detail == "c"
    assert combine([ok, Observation("healthy", "d", "argocd d")]).source == "argocd a, argocd d"
    assert combine([]).state == "unknown"
    data = {
        "metadata": {"name": "app-dev"},
        "status": {
            "sync": {"status": "Synced", "revision": OURS},
            "health": {"status": "Degraded", "message": "Deployment exceeded its progress deadline"},
            "operationState": {
                "phase": "Succeeded",
                "message": "successfully synced",
                "syncResult": {"revision": OURS},
            },
        },
    }
    parsed = parse("app-dev", data)
    assert (parsed.revision, parsed.sync, parsed.health, parsed.phase) == (OURS, "Synced", "Degraded", "Succeeded")
    assert parsed.health_message == "Deployment exceeded its progress deadline"
    assert parse("x", {}).health == "Unknown"
