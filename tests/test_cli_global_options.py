"""`-C DIR` and `--config FILE` before the subcommand (`release -C app plan`), as the README says; a subcommand's
own option wins over the one given before it."""

from __future__ import annotations

from tests.conftest import Repo, assert_one_line_error


def app_with_history(repo: Repo) -> Repo:
    repo.commit("feat: first")
    repo.commit("fix: second")
    repo.write("alt.yaml", "versioning:\n  initial: 2.0.0\n")
    return repo


def test_dash_c_before_the_subcommand_equals_after(repo, release, tmp_path):
    app = app_with_history(repo)
    before = release(tmp_path, "-C", "app", "plan")
    after = release(tmp_path, "plan", "-C", "app")
    assert before.code == after.code == 0, before.err + after.err
    assert before.out == after.out and "next     0.1.0" in before.out
    assert release(tmp_path, "-C", "app", "plan", "--json").out == release(tmp_path, "plan", "--json", "-C", "app").out
    assert release(tmp_path, "-C", str(app.path), "version").out.strip() == "0.1.0"
    # the subcommand's own -C wins
    assert release(tmp_path, "-C", "nowhere", "plan", "-C", "app").out == before.out
    # nested groups see it too
    generated = release(tmp_path, "-C", "app", "ci", "generate", "--format", "github")
    assert generated.code == 0, generated.err


def test_config_before_the_subcommand(repo, release, tmp_path):
    app = app_with_history(repo)
    alt = release(app, "--config", "alt.yaml", "plan")
    assert alt.code == 0, alt.err
    assert "next     2.0.0" in alt.out
    assert release(app, "plan", "--config", "alt.yaml").out == alt.out
    both = release(tmp_path, "-C", "app", "--config", str(app.path / "alt.yaml"), "version")
    assert both.out.strip() == "2.0.0"
    missing = release(app, "--config", "missing.yaml", "plan")
    assert_one_line_error(missing, "missing.yaml")
    assert release(app, "--config", "missing.yaml", "plan", "--config", "alt.yaml").out == alt.out


def test_help_lists_the_group_options(repo, release):
    result = release(repo, "--help")
    assert result.code == 0
    assert "-C DIR" in result.out and "--config FILE" in result.out
