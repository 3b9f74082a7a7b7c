"""`release init` over release-please, semantic-release and git-cliff configs (the shapes of real projects),
read back by the strict config reader, then planned and noted as a user would."""

from __future__ import annotations

import json

from release.config import from_text
from tests.conftest import Repo

RP_CONFIG = {
    "$schema": "https://raw.githubusercontent.com/googleapis/release-please/main/schemas/config.json",
    "versioning": "always-bump-minor",
    "release-type": "node",
    "bump-minor-pre-major": True,
    "changelog-sections": [
        {"type": "feat", "hidden": False, "section": "Features"},
        {"type": "feature", "hidden": False, "section": "Features"},
        {"type": "fix", "hidden": False, "section": "Bug Fixes"},
        {"type": "chore", "hidden": False, "section": "Miscellaneous Chores"},
        {"type": "build", "hidden": False, "section": "Miscellaneous Chores"},
        {"type": "docs", "hidden": False, "section": "Docs"},
        {"type": "test", "hidden": True, "section": "Tests"},
        {"type": "revert", "hidden": False, "section": "Reverted commits"},
    ],
    "packages": {".": {"package-name": "console", "include-component-in-tag": False}},
}
REUSABLE = """\
name: Release
on:
  workflow_call:
jobs:
  release:
    steps:
      - uses: googleapis/release-please-action@v4
"""
CALLER = """\
name: Create release
on:
  push:
    branches: [main]
jobs:
  release:
    uses: ./.github/workflows/job-release-please.yml
"""


def init(release, repo: Repo) -> tuple[str, str]:
    result = release(repo, "init")
    assert result.code == 0, result.err
    text = (repo.path / "release.yaml").read_text(encoding="utf-8")
    from_text(text)  # what init writes, the strict reader takes
    return text, result.err


def plan(release, repo: Repo) -> dict:  # type: ignore[type-arg]
    result = release(repo, "plan", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_release_please_project_keeps_its_sections_style_and_tags(repo, release):
    repo.commit(
        "chore: setup",
        {
            "release-please-config.json": json.dumps(RP_CONFIG, indent=2),
            ".release-please-manifest.json": '{".": "9.24.0"}',
            ".github/workflows/ci.yml": "on: push\njobs: {}\n",
            ".github/workflows/job-release-please.yml": REUSABLE,
            ".github/workflows/workflow-create-or-update-release.yml": CALLER,
        },
    )
    repo.tag("v9.24.0")
    repo.commit("chore(deps): bump left-pad")
    repo.commit("fix(api): no crash")
    text, err = init(release, repo)
    config = from_text(text)
    assert config.versioning.tag_format == "v{version}"
    assert config.versioning.bump_minor_pre_major is True
    assert config.notes.style == "release-please"
    assert [(s.type, s.title, s.hidden) for s in config.notes.sections][:4] == [
        ("feat", "Features", False),
        ("feature", "Features", False),
        ("fix", "Bug Fixes", False),
        ("chore", "Miscellaneous Chores", False),
    ]
    assert ("test", "Tests", True) in [(s.type, s.title, s.hidden) for s in config.notes.sections]
    assert '"versioning": "always-bump-minor" has no equivalent' in text  # said, not dropped
    assert "not carried over" in err
    assert "add to a job in .github/workflows/workflow-create-or-update-release.yml" in err
    repo.git("add", "release.yaml")
    repo.commit("ci: release.yaml")
    assert plan(release, repo)["next_version"] == "9.24.1"
    notes = release(repo, "notes").out
    assert "### Bug Fixes" in notes and "### Miscellaneous Chores\n\n* **deps:** bump left-pad" in notes


def test_release_please_monorepo_packages_become_components(repo, release):
    config = {
        "packages": {
            "apps/api": {"package-name": "@org/api"},
            "apps/web": {"component": "web"},
        }
    }
    repo.commit(
        "chore: setup",
        {
            "release-please-config.json": json.dumps(config),
            "apps/api/index.js": "1",
            "apps/web/index.js": "1",
        },
    )
    repo.tag("api-v1.0.0")
    repo.tag("web-v2.0.0")
    repo.commit("fix(api): x", {"apps/api/index.js": "2"})
    text, _ = init(release, repo)
    parsed = from_text(text)
    assert [(c.name, c.path, c.tag_format) for c in parsed.components] == [
        ("api", "apps/api", "{component}-v{version}"),
        ("web", "apps/web", "{component}-v{version}"),
    ]
    repo.git("add", "release.yaml")
    repo.commit("ci: release.yaml")
    planned = {c["name"]: c["next_version"] for c in plan(release, repo)["components"]}
    assert planned == {"api": "1.0.1", "web": None}


RELEASERC = {
    "branches": [
        "+([0-9])?(.{+([0-9]),x}).x",
        "main",
        {"name": "beta", "prerelease": True},
        {"name": "next", "prerelease": "rc"},
    ],
    "tagFormat": "${version}",
    "plugins": [
        [
            "@semantic-release/commit-analyzer",
            {
                "preset": "conventionalcommits",
                "releaseRules": [
                    {"type": "build", "release": "patch"},
                    {"type": "docs", "scope": "README", "release": "patch"},
                    {"subject": "*security*", "release": "minor"},
                ],
            },
        ],
        [
            "@semantic-release/release-notes-generator",
            {
                "preset": "conventionalcommits",
                "presetConfig": {
                    "types": [
                        {"type": "feat", "section": "Features"},
                        {"type": "fix", "section": "Bug Fixes"},
                        {"type": "build", "section": "Build System", "hidden": False},
                        {"type": "docs", "hidden": True},
                    ]
                },
            },
        ],
        ["@semantic-release/changelog", {"changelogFile": "docs/CHANGELOG.md"}],
        "@semantic-release/github",
    ],
}


def test_semantic_release_rules_branches_and_sections(repo, release):
    repo.commit("chore: setup", {".releaserc.json": json.dumps(RELEASERC)})
    repo.tag("3.1.0")
    repo.commit("build!: new toolchain")
    text, err = init(release, repo)
    config = from_text(text)
    assert config.versioning.tag_format == "{version}"
    assert config.versioning.prerelease_branches == {"beta": "beta", "next": "rc"}
    assert config.branches == ("*.x", "main", "beta", "next")
    assert [(r.type, r.scope, r.breaking, r.bump) for r in config.versioning.rules] == [
        ("build", None, None, "patch"),
        ("build", None, True, "patch"),  # semantic-release: the rule wins over a breaking change
        ("docs", "README", None, "patch"),
        ("docs", "README", True, "patch"),
    ]
    assert [(s.type, s.title, s.hidden) for s in config.notes.sections] == [
        ("feat", "Features", False),
        ("fix", "Bug Fixes", False),
        ("build", "Build System", False),
        ("docs", "docs", True),
    ]
    assert config.notes.changelog == "docs/CHANGELOG.md"
    assert '"subject": "*security*"' in text and "not carried over" in err
    repo.git("add", "release.yaml")
    repo.commit("ci: release.yaml")
    assert plan(release, repo)["next_version"] == "3.1.1"  # as semantic-release: build! under a patch rule


def test_semantic_release_in_javascript_is_named_not_read(repo, release):
    repo.commit("chore: setup", {"release.config.js": "module.exports = {tagFormat: 'v${version}'}\n"})
    text, err = init(release, repo)
    assert "release.config.js is JavaScript: copy its settings by hand" in text
    assert "release.config.js" in err


CLIFF = r"""
[changelog]
body = "{% for group, commits in commits | group_by(attribute=\"group\") %}{{ group }}{% endfor %}"

[git]
conventional_commits = true
tag_pattern = "v[0-9].*"
commit_parsers = [
  { message = "^feat", group = "<!-- 0 -->🚀 Features" },
  { message = "^fix", group = "<!-- 1 -->🐛 Bug Fixes" },
  { message = "^doc", group = "<!-- 3 -->📚 Documentation" },
  { message = "^perf", group = "<!-- 4 -->⚡ Performance" },
  { message = "^chore\\(release\\)", skip = true },
  { message = "^chore", group = "<!-- 2 -->⚙️ Miscellaneous Tasks" },
  { body = ".*security", group = "<!-- 9 -->🛡️ Security" },
]
"""


def test_git_cliff_parsers_become_sections_in_its_group_order(repo, release):
    repo.commit("chore: setup", {"cliff.toml": CLIFF})
    repo.tag("v0.3.0")
    repo.commit("docs: explain")
    text, _ = init(release, repo)
    config = from_text(text)
    assert config.versioning.tag_format == "v{version}"
    assert [(s.type, s.title) for s in config.notes.sections] == [
        ("feat", "🚀 Features"),
        ("fix", "🐛 Bug Fixes"),
        ("chore", "⚙️ Miscellaneous Tasks"),
        ("docs", "📚 Documentation"),
        ("doc", "📚 Documentation"),
        ("perf", "⚡ Performance"),
    ]
    assert '"body": ".*security"' in text  # said, not dropped
    assert "[changelog] body template" in text
    repo.git("add", "release.yaml")
    repo.commit("ci: release.yaml")
    assert "### 📚 Documentation\n\n* explain" in release(repo, "notes").out


def test_the_release_workflow_is_proposed_over_the_first_one(repo, release):
    repo.commit(
        "chore: setup",
        {".github/workflows/a-lint.yml": "on: push\n", ".github/workflows/release.yml": "on: push\n"},
    )
    _, err = init(release, repo)
    assert "add to a job in .github/workflows/release.yml" in err


OLD_STYLE_RELEASERC = {
    "plugins": ["@semantic-release/commit-analyzer", "@semantic-release/release-notes-generator"],
    "analyzeCommits": {"releaseRules": [{"type": "build", "release": "patch"}]},
    "preset": "conventionalcommits",
    "presetConfig": {"types": [{"type": "feat", "section": "Features"}, {"type": "ci", "section": "CI"}]},
    "tagFormat": "${version}",
    "branches": [
        {"name": "maint/+([0-9])?(.{+([0-9]),x}).x", "range": "${name.replace(/^maint\\//g, '')}"},
        {"name": "main"},
        {"name": "next", "prerelease": True},
    ],
}


def test_semantic_release_top_level_options_and_a_maintenance_prefix(repo, release):
    """renovate's shape: analyzeCommits and presetConfig at the top level, maintenance branches under maint/."""
    repo.commit("chore: setup", {".releaserc.json": json.dumps(OLD_STYLE_RELEASERC)})
    text, _ = init(release, repo)
    config = from_text(text)
    assert [(r.type, r.breaking, r.bump) for r in config.versioning.rules] == [
        ("build", None, "patch"),
        ("build", True, "patch"),
    ]
    assert [(s.type, s.title) for s in config.notes.sections] == [("feat", "Features"), ("ci", "CI")]
    assert config.branches == ("maint/*.x", "main", "next")
    assert config.versioning.prerelease_branches == {"next": "next"}
    repo.git("add", "release.yaml")
    repo.commit("ci: release.yaml")
    repo.tag("1.0.0")
    repo.git("checkout", "-q", "-b", "maint/1.x")
    repo.commit("fix: backport")
    assert plan(release, repo)["next_version"] == "1.0.1"
