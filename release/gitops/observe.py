"""What the GitOps agent says about a release: pending, healthy, failed or unknown (pure: no I/O).

The agent reconciles the branch head, so it may report on the release's own infra commit or on any descendant
whose files still hold the release (`holding`, newest first). For commit statuses, each required name (or glob)
is read on the newest holding commit that carries one; for Argo CD, each application's synced revision must be a
holding commit."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from release.adapters.argocd import Application
from release.adapters.forge import CommitStatus

State = Literal["pending", "healthy", "failed", "unknown"]
GOOD = frozenset({"success"})
BAD = frozenset({"failed", "failure", "error", "canceled"})  # GitLab failed/canceled, GitHub failure/error


@dataclass(frozen=True)
class Observation:
    state: State
    detail: str  # what the agent said, or what is missing
    source: str = ""  # the status name(s) or application(s) that said it
    commit: str | None = None  # the infra commit the agent reported on

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


UNKNOWN = Observation("unknown", "no verify configured")


def from_statuses(
    patterns: Sequence[str], holding: Sequence[str], statuses_of: Callable[[str], Sequence[CommitStatus] | None]
) -> Observation:
    """The commit statuses of the holding commits (newest first), read lazily: `statuses_of(sha)`."""
    wanted = list(patterns) or ["*"]
    found: dict[str, tuple[str, list[CommitStatus]]] = {}
    for commit in holding:
        statuses = statuses_of(commit) or []
        for pattern in [p for p in wanted if p not in found]:
            matching = [s for s in statuses if fnmatch.fnmatchcase(s.name, pattern)]
            if matching:
                found[pattern] = (commit, matching)
        if len(found) == len(wanted):
            break
    seen = [(commit, s) for commit, matching in found.values() for s in matching]
    bad = [(commit, s) for commit, s in seen if s.state in BAD]
    if bad:
        commit, status = bad[0]
        said = status.description or status.state
        return Observation("failed", f"{status.name}: {said}", status.name, commit)
    missing = [p for p in wanted if p not in found]
    if missing:
        shown = "status" if missing == ["*"] else ", ".join(missing)
        return Observation("pending", f"no {shown} yet on {holding[0][:12]} or the commits before it that hold it")
    waiting = [(commit, s) for commit, s in seen if s.state not in GOOD]
    if waiting:
        commit, status = waiting[0]
        return Observation("pending", f"{status.name}: {status.state}", status.name, commit)
    names = ", ".join(dict.fromkeys(s.name for _, s in seen))
    first = seen[0][1]
    return Observation("healthy", f"{names}: {first.description or first.state}", names, seen[0][0])


def from_application(app: Application, holding: Sequence[str]) -> Observation:
    """One Argo CD application: healthy once synced to a holding commit and Healthy."""
    source = f"argocd {app.name}"
    ours = set(holding)
    if app.revision not in ours:
        at = app.revision[:12] or "no revision"
        if app.phase == "Running":
            return Observation("pending", f"{app.name}: syncing (at {at})", source)
        return Observation("pending", f"{app.name}: at {at}, not yet at a commit that holds the release", source)
    if app.phase in ("Failed", "Error") and app.operation_revision in ours:
        said = app.operation_message or f"sync {app.phase.lower()}"
        return Observation("failed", f"{app.name}: sync {app.phase}: {said}", source, app.revision)
    if app.health == "Degraded":
        said = app.health_message or "a resource is Degraded"
        return Observation("failed", f"{app.name}: Degraded: {said}", source, app.revision)
    if app.sync == "Synced" and app.health == "Healthy":
        return Observation("healthy", f"{app.name}: Synced, Healthy", source, app.revision)
    shown = f"{app.sync}, {app.health}" + (f" ({app.health_message})" if app.health_message else "")
    return Observation("pending", f"{app.name}: {shown}", source, app.revision)


def combine(parts: Sequence[Observation]) -> Observation:
    """Failed if one failed, healthy if all are, else the first that waits."""
    for state in ("failed", "pending"):
        found = next((p for p in parts if p.state == state), None)
        if found is not None:
            return found
    if not parts:
        return UNKNOWN
    sources = ", ".join(p.source for p in parts if p.source)
    return Observation("healthy", "; ".join(p.detail for p in parts), sources, parts[0].commit)
