"""Claims: a run reserves the tags it releases on origin before it writes anything to a registry.

Registries have no compare-and-swap on tags. Two pipelines releasing one version from two commits both find the
version free, both push, and the last push wins the image and the chart while the first push wins the git tag.
Git refs are atomic, so before the images or charts stage publishes anything, the run creates
`refs/release-claims/<tag>` on origin naming its commit, with a push that can only create
(`--force-with-lease=<ref>:`). A claim naming another commit stops the run before it publishes anything; one
naming this commit (a rerun after a crash) is ours. Claims are dropped when the run ends, however it ends: from
then on what was published says who released the version, and the stages' own checks ("already published") apply.
A run killed with -9 leaves its claim: the rerun of that commit takes it over, and the error for any other commit
says how to delete it. Claims live outside refs/heads and refs/tags, so no CI pipeline starts for them and a
default fetch does not bring them.

A remote that refuses the ref for another reason (no push rights, a server that hides the namespace) leaves the run
as it was without claims: a warning, then the stages' checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from release.context import Context
from release.errors import ReleaseError

PREFIX = "refs/release-claims/"


@dataclass(frozen=True)
class Claim:
    ref: str
    commit: str
    remote: str
    env: Mapping[str, str] | None


def claim(ctx: Context) -> None:
    """Reserve every tag this run releases for HEAD (once per run; nothing in a dry run or without origin)."""
    if ctx.options.dry_run or "claims" in ctx.cache:
        return
    from release.stages import plan as plan_stage
    from release.stages import publish

    held: list[Claim] = []
    ctx.cache["claims"] = held
    where, head = publish.remote(ctx), ctx.git.head()
    if where is None or head is None:
        return
    remote, env = where
    for plan in plan_stage.make_plans(ctx):
        if not (plan.releasable and plan.tag):
            continue
        ref = PREFIX + str(plan.tag)
        proc = ctx.git._exec("push", "--porcelain", f"--force-with-lease={ref}:", remote, f"{head}:{ref}", env=env)
        holder = head if proc.returncode == 0 else _holder(ctx, remote, ref, env)
        if holder == head:
            held.append(Claim(ref, head, remote, env))
        elif holder is None:
            reason = next(
                (line for line in proc.stderr.decode("utf-8", errors="replace").splitlines() if line.strip()), "?"
            )
            ctx.say(
                f"warning: could not reserve {plan.tag} on {publish.REMOTE} ({reason.strip()}); "
                "a pipeline releasing it from another commit at the same time is not kept out"
            )
        else:
            raise ReleaseError(
                f"{plan.tag} is already being published by another pipeline, from commit {holder[:12]} "
                f"(this is {head[:12]}); nothing was published from this one",
                "rerun the pipeline on the latest commit once that one has finished; if no pipeline runs for "
                f"{holder[:12]} any more, delete its claim: git push {publish.REMOTE} :{ref}",
            )


def _holder(ctx: Context, remote: str, ref: str, env: Mapping[str, str] | None) -> str | None:
    out = ctx.git.run("ls-remote", remote, ref, env=env, check=False)
    return next((line.split()[0] for line in out.splitlines() if line.endswith(f"\t{ref}")), None)


def release(ctx: Context) -> None:
    """Drop this run's claims (only while they still name this commit)."""
    for held in ctx.cache.pop("claims", None) or []:
        lease = f"--force-with-lease={held.ref}:{held.commit}"
        proc = ctx.git._exec("push", "--porcelain", lease, held.remote, f":{held.ref}", env=held.env)
        if proc.returncode != 0 and _holder(ctx, held.remote, held.ref, held.env) == held.commit:
            ctx.say(f"warning: could not drop the claim {held.ref}; delete it: git push origin :{held.ref}")
