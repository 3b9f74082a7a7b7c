"""The last release is the highest version *reachable from HEAD*, found with a bounded number of git calls."""

from __future__ import annotations

import json

import pytest

from release.adapters.git import Git


def many_tags(repo, commit: str, names: list[str]) -> None:
    """Create lightweight tags in one git call (update-ref --stdin), not one process per tag."""
    stdin = "".join(f"create refs/tags/{name} {commit}\n" for name in names)
    import subprocess

    subprocess.run(["git", "update-ref", "--stdin"], cwd=repo.path, input=stdin, text=True, check=True)


@pytest.fixture
def tag_calls(monkeypatch):
    """The keyword arguments of every `Git.tags` call the test makes (each one is a git for-each-ref)."""
    calls: list[dict[str, object]] = []
    original = Git.tags

    def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Git, "tags", counting)
    return calls


def test_highest_reachable_past_every_batch_with_few_git_calls(repo, release, tag_calls):
    repo.commit("feat: base")
    repo.tag("v1.0.0")
    main = repo.head()
    repo.git("checkout", "-q", "-b", "side")
    side = repo.commit("feat: on a branch that is never merged")
    # 700 higher versions that HEAD cannot reach: more than the 32 + 128 + 512 checked in batches
    many_tags(repo, side, [f"v9.{i}.0" for i in range(700)])
    repo.git("checkout", "-q", "main")
    assert repo.head() == main
    repo.commit("fix: on main")
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert (plan["current_version"], plan["next_version"]) == ("1.0.0", "1.0.1")
    reachability = [c for c in tag_calls if c.get("merged_into")]
    assert 1 <= len(reachability) <= 4 * 2  # per question asked (base, current): three batches and one full walk


def test_the_highest_tags_answer_in_one_small_query(repo, release, tag_calls):
    repo.commit("feat: base")
    many_tags(repo, repo.head(), [f"v0.{i}.0" for i in range(300)])
    repo.commit("feat: next")
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["current_version"] == "0.299.0"
    asked = [c for c in tag_calls if c.get("merged_into")]
    assert len(asked) == 1 and len(asked[0]["names"]) == 32  # never the whole list of 300
