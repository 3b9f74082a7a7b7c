"""`release notes`: sections, forge links, ranges, dates and user templates, through the CLI on real repos."""

from __future__ import annotations

import re

import pytest

from release.notes.changelog import MARKER
from tests.conftest import assert_one_line_error

GITLAB = "https://gitlab.com/g/p"
GITHUB = "https://github.com/g/p"


@pytest.fixture
def history(repo, monkeypatch):
    """v1.2.0, then one commit of every interesting kind; returns {name: sha}."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-01T12:00:00+00:00")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2024-03-01T12:00:00+00:00")
    shas = {"base": repo.commit("feat: initial")}
    repo.tag("v1.2.0")
    shas["revert"] = repo.commit("revert: feat: an old experiment")
    shas["perf"] = repo.commit("perf(db): faster queries")
    shas["chore"] = repo.commit("chore: bump deps")
    shas["docs"] = repo.commit("docs: explain things")
    shas["ci"] = repo.commit("ci: cache more")
    shas["test"] = repo.commit("test: more tests")
    shas["style"] = repo.commit("style: format")
    shas["refactor"] = repo.commit("refactor: tidy")
    shas["build"] = repo.commit("build: new toolchain")
    shas["fix"] = repo.commit("fix: no crash on empty input (#12)")
    shas["feat"] = repo.commit("feat(api): add an endpoint, see !12")
    shas["breaking"] = repo.commit("feat(auth)!: tokens only\n\nBREAKING CHANGE: passwords are no longer accepted")
    return shas


def notes(release, repo, *args, env=None):
    result = release(repo, "notes", *args, env=env)
    assert result.code == 0, result.err
    return result.out


# --- default template --------------------------------------------------------------------------------


def test_sections_in_release_please_order_and_hidden_types(repo, release, history):
    out = notes(release, repo)
    titles = re.findall(r"^### (.+)$", out, re.MULTILINE)
    assert titles == ["Breaking changes", "Features", "Bug Fixes", "Performance Improvements", "Reverts"]
    for hidden in ("bump deps", "explain things", "cache more", "more tests", "format", "tidy", "new toolchain"):
        assert hidden not in out
    assert "faster queries" in out.split("### Performance Improvements")[1].split("###")[0]
    assert "an old experiment" in out.split("### Reverts")[1]
    assert "no crash on empty input" in out.split("### Bug Fixes")[1].split("###")[0]


def test_breaking_section_uses_the_breaking_description(repo, release, history):
    out = notes(release, repo)
    breaking = out.split("### Breaking changes")[1].split("###")[0]
    assert "* **auth:** passwords are no longer accepted (" in breaking
    features = out.split("### Features")[1].split("###")[0]
    assert "* **auth:** tokens only (" in features


def test_scope_in_bold_and_plain_short_sha_without_remote(repo, release, history):
    out = notes(release, repo)
    short = history["feat"][:7]
    assert f"* **api:** add an endpoint, see !12 ({short})\n" in out
    assert "http" not in out  # no remote: no links at all
    assert out.splitlines()[0] == "## 2.0.0 (" + out.splitlines()[0].split("(")[1]


def test_heading_with_compare_url_and_date(repo, release, history):
    repo.git("remote", "add", "origin", "git@gitlab.com:g/p.git")
    out = notes(release, repo, env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert out.splitlines()[0] == f"## [2.0.0]({GITLAB}/-/compare/v1.2.0...v2.0.0) (2023-11-14)"
    assert out.endswith("\n") and not out.endswith("\n\n")


def test_source_date_epoch_sets_the_date_of_unreleased_notes(repo, release, history):
    first = notes(release, repo, env={"SOURCE_DATE_EPOCH": "0"}).splitlines()[0]
    second = notes(release, repo, env={"SOURCE_DATE_EPOCH": "86400"}).splitlines()[0]
    assert first.endswith("(1970-01-01)")
    assert second.endswith("(1970-01-02)")


def test_no_user_facing_changes(repo, release):
    repo.commit("feat: initial")
    repo.tag("v1.0.0")
    repo.commit("chore: housekeeping")
    out = notes(release, repo, "--from", "v1.0.0")
    assert "No user-facing changes." in out
    assert "housekeeping" not in out


# --- links follow the remote -----------------------------------------------------------------------------


@pytest.mark.parametrize("remote", ["git@gitlab.com:g/p.git", "https://gitlab.com/g/p.git", "ssh://git@gitlab.com/g/p"])
def test_gitlab_links(repo, release, history, remote):
    repo.git("remote", "add", "origin", remote)
    out = notes(release, repo)
    sha = history["feat"]
    assert (
        f"* **api:** add an endpoint, see [!12]({GITLAB}/-/merge_requests/12) ([{sha[:7]}]({GITLAB}/-/commit/{sha}))"
        in out
    )
    assert f"no crash on empty input ([#12]({GITLAB}/-/issues/12))" in out


def test_github_links_and_no_mr_links(repo, release, history):
    repo.git("remote", "add", "origin", "https://github.com/g/p.git")
    out = notes(release, repo)
    sha = history["feat"]
    assert f"* **api:** add an endpoint, see !12 ([{sha[:7]}]({GITHUB}/commit/{sha}))" in out
    assert f"no crash on empty input ([#12]({GITHUB}/pull/12))" in out  # GitHub's squash subject names its PR
    assert "/-/" not in out
    assert f"({GITHUB}/compare/v1.2.0...v2.0.0)" in out


def test_unknown_host_gets_no_links(repo, release, history):
    repo.git("remote", "add", "origin", "https://git.example.org/g/p.git")
    out = notes(release, repo)
    assert "](" not in out
    assert f"({history['fix'][:7]})" in out


def test_forge_none_disables_links(repo, release, history):
    repo.git("remote", "add", "origin", "git@gitlab.com:g/p.git")
    repo.write("release.yaml", "notes: {forge: none}\n")
    out = notes(release, repo)
    assert "](" not in out and "gitlab" not in out
    assert f"* **api:** add an endpoint, see !12 ({history['feat'][:7]})" in out


def test_self_hosted_gitlab_from_ci_variables(repo, release, history):
    env = {
        "GITLAB_CI": "true",
        "CI_SERVER_URL": "https://git.corp.example",
        "CI_PROJECT_URL": "https://git.corp.example/team/app",
        "CI_COMMIT_REF_NAME": "main",
    }
    out = notes(release, repo, env=env)
    sha = history["feat"]
    assert f"[{sha[:7]}](https://git.corp.example/team/app/-/commit/{sha})" in out
    assert "[!12](https://git.corp.example/team/app/-/merge_requests/12)" in out
    assert "[#12](https://git.corp.example/team/app/-/issues/12)" in out


def test_self_hosted_gitlab_remote_recognised_through_ci_server_url(repo, release, history):
    repo.git("remote", "add", "origin", "git@git.corp.example:team/app.git")
    out = notes(release, repo, env={"GITLAB_CI": "true", "CI_SERVER_URL": "https://git.corp.example"})
    assert f"https://git.corp.example/team/app/-/commit/{history['fix']}" in out


def test_credentials_in_the_remote_never_leak(repo, release, history, tmp_path):
    repo.git("remote", "add", "origin", "https://user:s3cret@gitlab.com/g/p.git")
    template = tmp_path / "all.j2"
    template.write_text(
        "{{ project_url }} {{ compare_url }}\n{% for c in commits %}{{ c.url }} {{ c.links }}\n{% endfor %}"
    )
    for args in ((), ("--template", str(template)), ("--from", "v1.2.0", "--to", "HEAD")):
        result = release(repo, "notes", *args)
        assert result.code == 0, result.err
        assert "s3cret" not in result.out + result.err
        assert "user@" not in result.out
        assert GITLAB in result.out


# --- ranges --------------------------------------------------------------------------------------------


def test_from_to_tags_use_the_tag_version_and_the_tag_commit_date(repo, release, monkeypatch):
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-01-10T10:00:00+00:00")
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("fix: in 1.0.1")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-02-20T10:00:00+00:00")
    repo.commit("feat: in 1.1.0")
    repo.tag("v1.1.0", annotated=True)
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-05-05T10:00:00+00:00")
    repo.commit("feat: after 1.1.0")
    repo.git("remote", "add", "origin", "https://github.com/g/p.git")
    out = notes(release, repo, "--from", "v1.0.0", "--to", "v1.1.0", env={"SOURCE_DATE_EPOCH": "0"})
    assert out.splitlines()[0] == f"## [1.1.0]({GITHUB}/compare/v1.0.0...v1.1.0) (2024-02-20)"
    assert "in 1.0.1" in out and "in 1.1.0" in out
    assert "one" not in out.split("\n", 1)[1]
    assert "after 1.1.0" not in out


def test_to_tag_alone_starts_at_the_previous_tag(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("fix: two")
    repo.tag("v1.0.1")
    repo.commit("feat: three")
    out = notes(release, repo, "--to", "v1.0.1")
    assert out.startswith("## 1.0.1 (")
    assert "two" in out and "one" not in out.split("\n", 1)[1] and "three" not in out


def test_from_and_to_shas(repo, release):
    a = repo.commit("feat: alpha")
    repo.commit("fix: beta")
    c = repo.commit("perf: gamma")
    repo.commit("feat: delta")
    out = notes(release, repo, "--from", a, "--to", c)
    assert "beta" in out and "gamma" in out
    assert "alpha" not in out and "delta" not in out


def test_from_only_runs_to_head_with_the_next_version(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("feat: two")
    out = notes(release, repo, "--from", "v1.0.0")
    assert out.startswith("## 1.1.0 (")
    assert "two" in out


def test_unknown_revision_is_an_expected_failure(repo, release):
    repo.commit("feat: one")
    assert_one_line_error(release(repo, "notes", "--from", "v9.9.9"), "v9.9.9")


def test_output_writes_the_file_and_nothing_to_stdout(repo, release, history, tmp_path):
    target = tmp_path / "out" / "notes.md"
    target.parent.mkdir()
    result = release(repo, "notes", "--output", str(target))
    assert result.code == 0, result.err
    assert result.out == ""
    text = target.read_text(encoding="utf-8")
    assert text.startswith("## 2.0.0 (") and "### Features" in text
    assert text == notes(release, repo)


# --- user templates ------------------------------------------------------------------------------------

FULL_TEMPLATE = """\
{{ version }}|{{ previous.version }}|{{ previous.tag }}|{{ date }}
{% for c in commits -%}
{{ c.group }}|{{ c.scope }}|{{ c.breaking }}|{{ c.breaking_description }}|{{ c.footers.get('Refs') }}|\
{{ c.links | join(',') }}|{{ c.author }}|{{ c.sha }}|{{ c.short_sha }}|{{ c.subject }}
{% endfor -%}
{% for s in sections %}[{{ s.title }}:{{ s.entries | length }}]{% endfor %}
"""


def test_user_template_sees_the_documented_variables(repo, release, tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    fix = repo.commit("fix(core): handle #7\n\nRefs: JIRA-1")
    brk = repo.commit("feat(api)!: rename\n\nBREAKING CHANGE: the old name is gone")
    repo.git("remote", "add", "origin", "git@gitlab.com:g/p.git")
    template = tmp_path / "notes.j2"
    template.write_text(FULL_TEMPLATE)
    out = notes(release, repo, "--template", str(template), env={"SOURCE_DATE_EPOCH": "0"})
    lines = out.splitlines()
    assert lines[0] == "2.0.0|1.0.0|v1.0.0|1970-01-01"
    assert f"Breaking changes|api|True|the old name is gone|None||Ada Lovelace|{brk}|{brk[:7]}|rename" in lines
    assert f"Features|api|True|the old name is gone|None||Ada Lovelace|{brk}|{brk[:7]}|rename" in lines
    assert f"Bug Fixes|core|False|None|JIRA-1|{GITLAB}/-/issues/7|Ada Lovelace|{fix}|{fix[:7]}|handle #7" in lines
    assert lines[-1] == "[Breaking changes:1][Features:1][Bug Fixes:1]"


def test_template_from_release_yaml_relative_to_the_repo(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit(
        "fix: two",
        {
            ".release/notes.j2": "custom {{ version }} from {{ previous.version }}\n",
            "release.yaml": "notes:\n  template: .release/notes.j2\n",
        },
    )
    # run from a subdirectory: the template path is relative to the repo, not the working directory
    sub = repo.path / "src"
    sub.mkdir()
    result = release(sub, "notes")
    assert result.code == 0, result.err
    assert result.out == "custom 1.0.1 from 1.0.0\n"


def test_template_option_beats_the_config(repo, release, tmp_path):
    repo.commit("feat: one")
    repo.write("release.yaml", "notes: {template: missing.j2}\n")
    template = tmp_path / "t.j2"
    template.write_text("cli {{ version }}\n")
    assert notes(release, repo, "--template", str(template)) == "cli 0.1.0\n"


def test_template_syntax_error_names_file_and_line(repo, release, tmp_path):
    repo.commit("feat: one")
    template = tmp_path / "broken.j2"
    template.write_text("# {{ version }}\n\n{% for c in commits %}\n* {{ c.subject }\n{% endfor %}\n")
    assert_one_line_error(release(repo, "notes", "--template", str(template)), f"{template}:4")


def test_unclosed_block_error_is_one_line(repo, release, tmp_path):
    repo.commit("feat: one")
    template = tmp_path / "broken.j2"
    template.write_text("{% if version %}\n{% endfor %}\n")
    assert_one_line_error(release(repo, "notes", "--template", str(template)), f"{template}:2")


def test_template_syntax_error_from_release_yaml(repo, release):
    repo.commit("feat: one")
    repo.write("notes.j2", "ok\n{{ version\n")
    repo.write("release.yaml", "notes: {template: notes.j2}\n")
    assert_one_line_error(release(repo, "notes"), "notes.j2:2")


def test_undefined_variable_names_the_line(repo, release, tmp_path):
    repo.commit("feat: one")
    template = tmp_path / "undef.j2"
    template.write_text("{{ version }}\n\n{{ previous.tagg }}\n")
    assert_one_line_error(release(repo, "notes", "--template", str(template)), f"{template}:3", "tagg")


def test_undefined_attribute_inside_a_loop_names_the_line(repo, release, tmp_path):
    repo.commit("feat: one")
    template = tmp_path / "undef.j2"
    template.write_text("{% for c in commits %}\n{{ c.titel }}\n{% endfor %}\n")
    assert_one_line_error(release(repo, "notes", "--template", str(template)), f"{template}:2", "titel")


@pytest.mark.parametrize(
    "body",
    ["x\n{{ version + 1 }}\n", "x\n{{ 1 // 0 }}\n", "x\n{{ commits[99] }}\n"],
    ids=["type-error", "zero-division", "index"],
)
def test_any_runtime_error_in_a_user_template_is_a_user_error(repo, release, tmp_path, body):
    repo.commit("feat: one")
    template = tmp_path / "bad.j2"
    template.write_text(body)
    assert_one_line_error(release(repo, "notes", "--template", str(template)), f"{template}:2")


def test_template_not_utf8_or_missing(repo, release, tmp_path):
    repo.commit("feat: one")
    template = tmp_path / "latin1.j2"
    template.write_bytes("caf\xe9 {{ version }}\n".encode("latin-1"))
    assert_one_line_error(release(repo, "notes", "--template", str(template)), str(template))
    assert_one_line_error(release(repo, "notes", "--template", str(tmp_path / "nope.j2")), "nope.j2")


def test_template_can_include_a_sibling(repo, release, tmp_path):
    repo.commit("feat: one")
    (tmp_path / "entry.j2").write_text("- {{ c.subject }}\n")
    template = tmp_path / "main.j2"
    template.write_text("{{ version }}\n{% for c in commits %}{% include 'entry.j2' %}{% endfor %}")
    assert notes(release, repo, "--template", str(template)) == "0.1.0\n- one\n"


def test_notes_do_not_contain_the_changelog_marker(repo, release, history):
    assert MARKER not in notes(release, repo)


# --- ranges agree with what `release cut` wrote ------------------------------------------------------------


def test_to_a_stable_tag_counts_from_the_last_stable_release_like_cut(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("feat: in the rc")
    assert release(repo, "cut", "--prerelease", "rc").code == 0
    repo.commit("fix: after the rc")
    assert release(repo, "cut").code == 0
    assert repo.git("tag", "--list").splitlines() == ["v1.0.0", "v1.1.0", "v1.1.0-rc.1"]
    stable = notes(release, repo, "--to", "v1.1.0")
    assert "in the rc" in stable and "after the rc" in stable
    changelog = (repo.path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert stable.rstrip() in changelog
    rc = notes(release, repo, "--to", "v1.1.0-rc.1")
    assert "in the rc" in rc and "after the rc" not in rc
    assert rc.startswith("## 1.1.0-rc.1 (")


def test_range_drops_a_commit_and_its_revert(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    bad = repo.commit("feat: short-lived")
    repo.commit(f"revert: feat: short-lived\n\nThis reverts commit {bad}.")
    repo.commit("fix: kept")
    repo.tag("v1.0.1")
    out = notes(release, repo, "--to", "v1.0.1")
    assert "short-lived" not in out
    assert "kept" in out


def test_head_range_matches_the_planned_notes(repo, release):
    repo.commit("feat: one")
    repo.tag("v1.0.0")
    repo.commit("feat: two")
    repo.tag("v1.1.0-rc.1")
    repo.commit("fix: three")
    env = {"SOURCE_DATE_EPOCH": "0"}
    planned = notes(release, repo, env=env)
    assert planned.startswith("## 1.1.0 (1970-01-01)")
    assert notes(release, repo, "--to", "HEAD", env=env) == planned


# --- monorepo ----------------------------------------------------------------------------------------------

MONOREPO = "components:\n  - {name: api, path: api}\n  - {name: web, path: web}\n"


@pytest.fixture
def monorepo(repo):
    repo.commit("chore: layout", {"release.yaml": MONOREPO})
    repo.commit("feat: api thing", {"api/a.txt": "1"})
    repo.tag("api-v0.1.0")
    repo.commit("feat: web thing", {"web/w.txt": "1"})
    repo.tag("web-v0.1.0")
    repo.commit("fix: web fix", {"web/w.txt": "2"})
    repo.commit("fix: api fix", {"api/a.txt": "2"})
    return repo


def test_monorepo_range_component_is_read_from_the_tag(monorepo, release):
    out = notes(release, monorepo, "--from", "web-v0.1.0")
    assert out.startswith("## 0.1.1 (")
    assert "web fix" in out and "api fix" not in out
    out = notes(release, monorepo, "--to", "web-v0.1.0")
    assert out.startswith("## 0.1.0 (") and "web thing" in out and "api thing" not in out


def test_monorepo_range_with_component_option(monorepo, release):
    out = notes(release, monorepo, "--component", "api", "--from", "HEAD~3")
    assert "api fix" in out and "web fix" not in out


def test_monorepo_range_that_names_no_component_is_an_error(monorepo, release):
    assert_one_line_error(release(monorepo, "notes", "--from", "HEAD~2"), "--component")


def test_monorepo_planned_notes_per_component(monorepo, release):
    out = notes(release, monorepo)
    api, web = out.split("## 0.1.1", 2)[1:]
    assert "api fix" in api and "web fix" not in api
    assert "web fix" in web and "api fix" not in web


# --- pull/merge requests and issues from real histories ---------------------------------------------------------


@pytest.fixture
def merged(repo):
    """v1.0.0, then what GitHub and GitLab write: a merge commit of a pull request (its branch has a conventional
    commit and a "wip"), a squash subject, Refs/Closes footers, a GitLab merge commit; returns {name: sha}."""
    repo.commit("feat: initial")
    repo.tag("v1.0.0")
    shas = {}
    repo.git("checkout", "-q", "-b", "search")
    shas["search"] = repo.commit("feat: search box", {"search.txt": "x"})
    shas["wip"] = repo.commit("wip", {"wip.txt": "x"})
    repo.git("checkout", "-q", "main")
    shas["squash"] = repo.commit("fix: crash on an empty query (#13)", {"squash.txt": "x"})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #12 from owner/search\n\nfeat: search box", "search")
    shas["refs"] = repo.commit("fix: time out after 30 s\n\nRefs #512", {"refs.txt": "x"})
    shas["closes"] = repo.commit("feat: export as CSV\n\nCloses #513, #514", {"csv.txt": "x"})
    repo.git("checkout", "-q", "-b", "gitlab-branch")
    shas["gitlab"] = repo.commit("perf: cache the index", {"cache.txt": "x"})
    repo.git("checkout", "-q", "main")
    repo.git(
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge branch 'gitlab-branch' into 'main'\n\nperf: cache the index\n\nSee merge request g/p!14",
        "gitlab-branch",
    )
    return shas


def entry_line(out: str, text: str) -> str:
    return next(line for line in out.splitlines() if text in line)


def test_github_pull_requests_from_merge_commits_and_squash_subjects(repo, release, merged):
    repo.git("remote", "add", "origin", "https://github.com/g/p.git")
    out = notes(release, repo)
    search = entry_line(out, "search box")
    assert search.startswith(f"* search box ([#12]({GITHUB}/pull/12)) ([{merged['search'][:7]}]")
    squash = entry_line(out, "crash on an empty query")
    assert squash.startswith(f"* crash on an empty query ([#13]({GITHUB}/pull/13)) (")
    assert "wip" not in out and "Merge pull request" not in out
    assert entry_line(out, "time out after").endswith(f"), refs [#512]({GITHUB}/issues/512)")
    csv = entry_line(out, "export as CSV")
    assert csv.endswith(f"), closes [#513]({GITHUB}/issues/513), closes [#514]({GITHUB}/issues/514)")
    assert f"cache the index ([#14]({GITHUB}/pull/14))" in out  # a GitLab-style merge message on GitHub


def test_gitlab_merge_requests_and_issues(repo, release, merged):
    repo.git("remote", "add", "origin", "git@gitlab.com:g/p.git")
    out = notes(release, repo)
    assert entry_line(out, "cache the index").startswith(f"* cache the index ([!14]({GITLAB}/-/merge_requests/14)) (")
    assert entry_line(out, "search box").startswith(f"* search box ([!12]({GITLAB}/-/merge_requests/12)) (")
    # on GitLab, #13 is an issue: a squash subject's number is not a merge request there
    assert f"crash on an empty query ([#13]({GITLAB}/-/issues/13))" in out
    assert entry_line(out, "time out after").endswith(f"), refs [#512]({GITLAB}/-/issues/512)")


@pytest.mark.parametrize("remote", ["file-path", "https://git.example.org/g/p.git"])
def test_a_remote_off_the_forges_says_once_that_links_are_off(repo, release, merged, tmp_path, remote):
    url = str(tmp_path / "origin.git") if remote == "file-path" else remote
    repo.git("remote", "add", "origin", url)
    result = release(repo, "notes")
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "links are off" in line]
    assert len(warnings) == 1, result.err
    assert url in warnings[0] and "notes.url and notes.forge" in warnings[0]
    assert "](" not in result.out
    assert entry_line(result.out, "time out after").endswith(", refs #512")


def test_no_remote_and_forge_none_say_nothing_about_links(repo, release, merged):
    assert "links are off" not in release(repo, "notes").err
    repo.git("remote", "add", "origin", "/somewhere/else")
    repo.write("release.yaml", "notes: {forge: none}\n")
    assert "links are off" not in release(repo, "notes").err
