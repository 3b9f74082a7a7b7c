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
    names = ["plan", "test", "images", "charts", "publish", "notes", "promote"]
    assert [r.stage for r in results] == names == [r.stage for r in seen]
    by_name = {r.stage: r for r in results}
    assert by_name["images"].skipped and by_name["images"].summary == "no images configured"
    assert by_name["charts"].skipped and by_name["charts"].summary == "no charts configured"
    assert by_name["publish"].summary == "tagged v1.0.1 here (no origin remote to push it to)"
    assert repo.git("rev-parse", "v1.0.1^{commit}") == repo.head()
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
    assert [r.summary for r in results] == [
        "nothing to release",
        "no tests configured (tests: in release.yaml)",
        "no images configured",
        "no charts configured",
        "nothing to release",
        "nothing to release",
        "no environments configured",
    ]
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
    repo.commit("chore: config", {"release.yaml": repo.path.joinpath("release.yaml").read_text(), "web/.keep": ""})
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

    monkeypatch.setattr("release.source.plans.make_plans", broken)
    result = release(repo, "plan")
    assert result.code == 3
    assert "internal error" in result.err
    assert "KeyError" in result.err
    assert "release: error:" not in result.err


def test_usage_error_exits_2(repo, release):
    repo.commit("feat: one")
    assert release(repo, "plan", "--no-such-flag").code == 2
    assert release(repo, "cut", "--bump", "huge").code == 2


def test_pipeline_publishes_images_then_charts_that_use_their_digest(repo, monkeypatch, registry, podman):
    from tests.services import scratch_context

    scratch_context(repo.path, {"hello.txt": "pipeline\n"})
    repo.write("charts/app/Chart.yaml", "apiVersion: v2\nname: app\nversion: 0.0.1\n")
    repo.write("charts/app/values.yaml", "image:\n  digest: none\n")
    repo.write("charts/app/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    repo.write(
        "release.yaml",
        f"images:\n  - name: app\n    repository: {registry.host}/pipeline/app\n"
        f'charts:\n  - path: charts/app\n    values: {{image.digest: "{{image.app.digest}}"}}\n'
        f'    publish: ["oci://{registry.host}/pipeline-charts"]\n',
    )
    repo.git("add", "-A")
    repo.commit("feat: app")
    for key, value in (
        ("DOCKER_HOST", podman.base_url),
        ("RELEASE_REGISTRY_USER", registry.user),
        ("RELEASE_REGISTRY_PASSWORD", registry.password),
    ):
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(repo.path)
    results = pipeline.run(Context.build(Options()))
    assert [r.stage for r in results if not r.skipped] == ["plan", "images", "charts", "publish", "notes"]
    state = json.loads((repo.path / ".release/state.json").read_text())
    digest = state["images"][0]["digest"]
    assert digest.startswith("sha256:")
    assert state["charts"][0]["version"] == "0.1.0"
    manifest = registry.get(
        "/v2/pipeline-charts/app/manifests/0.1.0", accept=["application/vnd.oci.image.manifest.v1+json"]
    ).json()
    layer = registry.get(f"/v2/pipeline-charts/app/blobs/{manifest['layers'][0]['digest']}").content
    import gzip
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        values = tar.extractfile("app/values.yaml").read().decode()  # type: ignore[union-attr]
    assert values == f"image:\n  digest: {digest}\n"
