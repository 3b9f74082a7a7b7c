"""The pipeline runs stages in order and hands results forward in the State file."""

import json

import pytest

from release import pipeline
from release.context import Context, Options, State


def test_pipeline_records_plan_and_notes_in_state(repo, monkeypatch):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("fix(api): two")
    monkeypatch.chdir(repo.path)
    ctx = Context.build(Options())
    seen = []
    results = pipeline.run(ctx, report=seen.append)
    assert [r.stage for r in results] == ["plan", "images", "notes"] == [r.stage for r in seen]
    assert results[1].skipped and results[1].summary == "no images configured"
    state = json.loads((repo.path / ".release/state.json").read_text())
    assert state["version"] == "1.0.1"
    assert state["tag"] == "v1.0.1"
    assert state["previous_version"] == "1.0.0"
    assert state["sha"] == repo.head()
    notes = (repo.path / state["notes_path"]).read_text()
    assert "**api:** two" in notes


def test_pipeline_with_nothing_to_release(repo, monkeypatch):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("docs: readme")
    monkeypatch.chdir(repo.path)
    ctx = Context.build(Options())
    results = pipeline.run(ctx)
    assert [r.summary for r in results] == ["nothing to release", "no images configured", "nothing to release"]
    state = json.loads((repo.path / ".release/state.json").read_text())
    assert state["version"] is None and state["notes_path"] is None


def test_state_round_trip_and_atomic_write(tmp_path):
    path = tmp_path / "s" / "state.json"
    state = State(version="1.2.3", tag="v1.2.3", images=[{"name": "app", "digest": "sha256:ab"}])
    state.save(path)
    assert State.load(path) == state
    assert [p.name for p in path.parent.iterdir()] == ["state.json"]  # no temp file left behind


def test_monorepo_state_lists_components(repo, monkeypatch):
    repo.write("release.yaml", "components:\n  - {name: api, path: api}\n  - {name: web, path: web}\n")
    repo.commit("chore: config", {"release.yaml": repo.path.joinpath("release.yaml").read_text()})
    repo.commit("feat(api): endpoint", {"api/a.py": "x"})
    monkeypatch.chdir(repo.path)
    ctx = Context.build(Options())
    pipeline.run(ctx)
    state = json.loads((repo.path / ".release/state.json").read_text())
    assert {c["name"]: c["version"] for c in state["components"]} == {"api": "0.1.0", "web": None}
    assert (repo.path / ".release/notes-api.md").exists()
    assert not (repo.path / ".release/notes-web.md").exists()


@pytest.mark.parametrize("content", ["{not json", '{"version": "1.0.0", "surprise": 1}', "[]"])
def test_bad_state_file_is_a_clear_error(repo, release, content):
    repo.commit("feat: one")
    repo.write(".release/state.json", content)
    result = release(repo, "plan")
    assert result.code == 1
    assert result.err.startswith("release: error: state file")
    assert len(result.err.strip().splitlines()) == 1


def test_a_bug_exits_3_and_is_not_dressed_as_user_error(repo, release, monkeypatch):
    repo.commit("feat: one")

    def broken(ctx):
        raise KeyError("boom")

    monkeypatch.setattr("release.stages.plan.make_plans", broken)
    result = release(repo, "plan")
    assert result.code == 3
    assert "internal error" in result.err
    assert "KeyError" in result.err
    assert "release: error:" not in result.err


def test_usage_error_exits_2(repo, release):
    repo.commit("feat: one")
    assert release(repo, "plan", "--no-such-flag").code == 2
    assert release(repo, "cut", "--bump", "huge").code == 2
