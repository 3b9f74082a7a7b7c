"""Claims: a run reserves the tags it releases on origin before it writes anything to a registry.

Registries have no compare-and-swap on tags. Two pipelines releasing one version from two commits both find the
version free, both push, and the last push wins the image and the chart while the first push wins the git tag.
Git refs are atomic, so before the images or charts stage publishes anything, the run creates
`refs/release-claims/<tag>` on origin with a push that can only create (`--force-with-lease=<ref>:`). The claim is a
commit object on top of the claimant's HEAD (trailer `Release-Claim-Holder: <sha>`), so its committer date says
when it was made. A claim of another commit stops the run before it publishes anything; one of this commit (a
rerun after a crash) is ours. Claims are dropped when the run ends, also on SIGTERM: from then on what was
published says who released the version, and the stages' own checks ("already published") apply. Only `kill -9`
leaves a claim: the rerun of that commit takes it over at once, any other commit once it is older than
RELEASE_CLAIM_TTL (an hour; compare-and-swap again), and until then the error says how to delete it. Claims live
outside refs/heads and refs/tags, so no CI pipeline starts for them and a default fetch does not bring them.

A remote that refuses the ref for another reason (no push rights, a server that hides the namespace) leaves the run
as it was without claims: a warning, then the stages' checks.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from release.context import Context
from release.errors import ReleaseError
from release.source import origin
from release.source import plans as planning

PREFIX = "refs/release-claims/"


@dataclass(frozen=True)
class Claim:
    ref: str
    commit: str
    remote: str
    env: Mapping[str, str] | None


TTL_DEFAULT = 3600  # seconds; RELEASE_CLAIM_TTL overrides: longer than any honest release pipeline runs
TRAILER = "Release-Claim-Holder"


def claim(ctx: Context) -> None:
    """Reserve every tag this run releases for HEAD (once per run; nothing without origin, or in a dry run)."""
    if "claims" not in ctx.cache:
        ctx.effects.take_claims(lambda: _claim(ctx))


def _claim(ctx: Context) -> None:
    held: list[Claim] = []
    ctx.cache["claims"] = held
    where, head = origin.remote(ctx), ctx.git.head()
    if where is None or head is None:
        return
    remote, env = where
    for plan in planning.make_plans(ctx):
        if not (plan.releasable and plan.tag):
            continue
        ref = PREFIX + str(plan.tag)
        mine = _claim_commit(ctx, str(plan.tag), head)
        # held before the push: a SIGTERM while `git push` runs must still drop what the push may have created
        pending = Claim(ref, mine, remote, env)
        held.append(pending)
        refused = ctx.git.compare_and_swap(remote, ref, expect="", new=mine, env=env)
        current = mine if refused is None else ctx.git.remote_ref(remote, ref, env)
        if current == mine:
            continue
        held.remove(pending)
        if current is None:
            ctx.say(
                f"warning: could not reserve {plan.tag} on {origin.REMOTE} ({refused}); "
                "a pipeline releasing it from another commit at the same time is not kept out"
            )
            continue
        holder, age = _describe(ctx, remote, ref, env, current)
        if holder == head:  # this commit's own run, killed before it could drop the claim: ours again
            held.append(Claim(ref, current, remote, env))
            continue
        ttl = _ttl(ctx)
        if (
            age is not None
            and age > ttl
            and ctx.git.compare_and_swap(remote, ref, expect=current, new=mine, env=env) is None
        ):
            ctx.say(
                f"took over the claim on {plan.tag} left by commit {holder[:12]} {age // 60} min ago "
                f"(older than RELEASE_CLAIM_TTL={ttl} s: its pipeline is gone)"
            )
            held.append(Claim(ref, mine, remote, env))
            continue
        raise ReleaseError(
            f"{plan.tag} is already being published by another pipeline, from commit {holder[:12]} "
            f"(this is {head[:12]}); nothing was published from this one",
            "rerun the pipeline on the latest commit once that one has finished; if no pipeline runs for "
            f"{holder[:12]} any more, delete its claim: git push {origin.REMOTE} :{ref} "
            f"(claims older than RELEASE_CLAIM_TTL, {ttl} s, are taken over by themselves)",
        )


def _claim_commit(ctx: Context, tag: str, head: str) -> str:
    """A commit object on top of HEAD whose committer date is the claim's time: a claim's age can be read back."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_COMMITTER_", "GIT_AUTHOR_"))}
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"], env[f"GIT_{role}_EMAIL"] = "release", "release@localhost"
    tree = ctx.git.run("rev-parse", f"{head}^{{tree}}").strip()
    message = f"release claim {tag}\n\n{TRAILER}: {head}\n"
    return ctx.git.run("commit-tree", tree, "-p", head, input=message, env=env).strip()


def _describe(
    ctx: Context, remote: str, ref: str, env: Mapping[str, str] | None, claim_sha: str
) -> tuple[str, int | None]:
    """Who holds a claim, and for how many seconds; a bare commit (a claim made by hand) is its own holder, ageless."""
    ctx.git.fetch_objects(remote, ref, env)
    text = ctx.git.commit_text(claim_sha)
    holder = re.search(rf"^{TRAILER}: ([0-9a-f]{{40,64}})$", text, re.M)
    when = re.search(r"^committer .* (\d+) [+-]\d{4}$", text, re.M)
    if holder is None or when is None:
        return claim_sha, None
    return holder.group(1), max(0, int(time.time()) - int(when.group(1)))


def _ttl(ctx: Context) -> int:
    text = ctx.env.get("RELEASE_CLAIM_TTL", "")
    if not text:
        return TTL_DEFAULT
    if not text.isdigit():
        raise ReleaseError(
            f"RELEASE_CLAIM_TTL is {text!r}, not a number of seconds", "set it to e.g. 3600, or unset it"
        )
    return int(text)


def release(ctx: Context) -> None:
    """Drop this run's claims (only while they are still this run's)."""
    for held in ctx.cache.pop("claims", None) or []:
        refused = ctx.git.compare_and_swap(held.remote, held.ref, expect=held.commit, new="", env=held.env)
        if refused is not None and ctx.git.remote_ref(held.remote, held.ref, held.env) == held.commit:
            ctx.say(f"warning: could not drop the claim {held.ref}; delete it: git push origin :{held.ref}")
