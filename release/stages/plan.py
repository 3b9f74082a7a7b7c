"""Plan: decide the next version (per component in a monorepo) and record it in the State."""

from __future__ import annotations

from release.context import Context, State
from release.source.plans import make_plans

NAME = "plan"


def skip(ctx: Context) -> str | None:
    return None


def run(ctx: Context) -> str:
    plans = make_plans(ctx)
    head = ctx.git.head()
    if ctx.state.sha is not None and ctx.state.sha != head:
        # A State left by another commit's release: nothing in it (digests, promotions) belongs to this one.
        ctx.state = State()
    state = ctx.state
    state.components = [
        {
            "name": p.component,
            "version": str(p.next_version) if p.next_version else None,
            "tag": p.tag,
            "previous_version": str(p.current.version) if p.current else None,
        }
        for p in plans
        if p.component
    ]
    single = plans[0] if len(plans) == 1 and plans[0].component is None else None
    if single is not None:
        state.version = str(single.next_version) if single.next_version else None
        state.tag = single.tag
        state.previous_version = str(single.current.version) if single.current else None
    state.sha = head
    released = [
        f"{p.component + ' ' if p.component else ''}{p.next_version}"
        + (f" (HEAD is tagged {p.tag})" if p.head_tagged else "")
        for p in plans
        if p.releasable
    ]
    return f"next version {', '.join(released)}" if released else "nothing to release"
