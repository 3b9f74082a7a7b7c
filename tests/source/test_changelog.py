"""CHANGELOG.md insertion: pure unit tests on release.notes.changelog, then the same rules through `release cut`."""

from __future__ import annotations

import pytest

from release.notes.changelog import MARKER, TITLE, has_version, insert

SECTION = (
    "## [1.1.0](https://example.com/compare/v1.0.0...v1.1.0) (2024-05-01)\n\n### Features\n\n* new thing (abc1234)\n"
)

INTRO = "# Changelog   \n\nAll notable changes, *hand-written* intro.\t\nTrailing spaces stay:   \n\n\n"
OLD = (
    "## [1.0.0](https://example.com/compare/v0.9.0...v1.0.0) (2024-01-01)\n\n"
    "### Bug Fixes\n\n* old fix (def5678)\n\n\n"
    "## 0.9.0\n\nhand-written notes\n"
)


# --- pure ----------------------------------------------------------------------------------------------


def test_new_file_has_title_marker_and_section():
    text = insert(None, SECTION, "1.1.0")
    assert text == f"{TITLE}\n\n{MARKER}\n\n{SECTION}"
    assert text.startswith("# Changelog\n")


def test_empty_file_is_treated_as_new():
    assert insert("", SECTION, "1.1.0") == insert(None, SECTION, "1.1.0")


def test_insertion_at_the_marker_keeps_every_other_byte():
    original = f"{INTRO}{MARKER}\n\n{OLD}"
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    before, after = f"{INTRO}{MARKER}\n\n", OLD
    assert new.startswith(before)
    assert new.endswith(after)
    assert new == before + SECTION + "\n" + after
    assert new.index("## [1.1.0]") < new.index("## [1.0.0]")


def test_marker_below_the_intro_is_where_it_goes_even_with_text_after_it():
    original = f"# Changes\n\nintro\n\n{MARKER}\n\n{OLD}\n<!-- footer links -->\n"
    new = insert(original, SECTION, "1.1.0")
    assert new == f"# Changes\n\nintro\n\n{MARKER}\n\n{SECTION}\n{OLD}\n<!-- footer links -->\n"


def test_without_marker_inserted_before_the_first_release_heading():
    original = INTRO + OLD
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    assert new.startswith(INTRO)
    assert new.endswith(OLD)
    middle = new[len(INTRO) : len(new) - len(OLD)]
    assert SECTION.rstrip() in middle
    assert middle.index(SECTION.rstrip()) < len(middle)
    # the marker is added so the next release goes to the same place
    assert MARKER in middle
    again = insert(new, SECTION.replace("1.1.0", "1.2.0"), "1.2.0")
    assert again is not None and again.index("1.2.0") < again.index("## [1.1.0]") < again.index("## [1.0.0]")


def test_without_marker_or_heading_appended():
    original = "# Changelog\n\nNothing released yet.\n"
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    assert new.startswith(original)
    assert new.rstrip("\n").endswith(SECTION.rstrip())


def test_crlf_file_stays_crlf():
    original = f"# Changelog\r\n\r\nIntro\r\n\r\n{MARKER}\r\n\r\n## 1.0.0 (2024-01-01)\r\n\r\n* old\r\n"
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    assert "\n" not in new.replace("\r\n", "")
    assert new.startswith(f"# Changelog\r\n\r\nIntro\r\n\r\n{MARKER}\r\n\r\n## [1.1.0]")
    assert new.endswith("## 1.0.0 (2024-01-01)\r\n\r\n* old\r\n")


def test_crlf_file_without_marker_stays_crlf():
    original = "# Changelog\r\n\r\n## 1.0.0\r\n\r\n* old\r\n"
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    assert "\n" not in new.replace("\r\n", "")
    assert new.endswith("## 1.0.0\r\n\r\n* old\r\n")


@pytest.mark.parametrize(
    "heading",
    [
        "## [1.1.0](https://x/compare/a...b) (2024-05-01)",
        "## 1.1.0 (2024-05-01)",
        "## [1.1.0] - 2024-05-01",
        "## 1.1.0",
    ],
)
def test_version_already_present_is_a_rerun(heading):
    original = f"# Changelog\n\n{MARKER}\n\n{heading}\n\n* thing\n"
    assert has_version(original, "1.1.0")
    assert insert(original, SECTION, "1.1.0") is None


@pytest.mark.parametrize(
    "heading", ["## 1.1.0-rc.1 (2024-05-01)", "## [1.1.00]", "## 11.1.0", "### 1.1.0", "text 1.1.0"]
)
def test_other_versions_are_not_a_match(heading):
    assert not has_version(f"# Changelog\n\n{heading}\n", "1.1.0")


def test_unicode_and_french_content_preserved():
    intro = "# Journal des modifications\n\nÉté 2024 — « nouveautés » ✨ 日本語\n\n"
    original = f"{intro}{MARKER}\n\n## 1.0.0\n\n* corrigé : l'icône 🐛\n"
    section = "## 1.1.0 (2024-05-01)\n\n### Features\n\n* **api:** prise en charge de « ça » ✨ (abc1234)\n"
    new = insert(original, section, "1.1.0")
    assert new is not None
    assert new.startswith(f"# Journal des modifications\n\nÉté 2024 — « nouveautés » ✨ 日本語\n\n{MARKER}\n\n")
    assert "prise en charge de « ça » ✨" in new
    assert new.endswith("## 1.0.0\n\n* corrigé : l'icône 🐛\n")


# --- through `release cut` -------------------------------------------------------------------------------


@pytest.fixture
def released(repo):
    repo.commit("feat: first")
    repo.tag("v1.0.0")
    repo.commit("feat: second thing")
    return repo


def cut(release, repo, *args):
    result = release(repo, "cut", *args)
    assert result.code == 0, result.err
    return result


def test_cut_creates_a_new_changelog(released, release):
    cut(release, released)
    text = (released.path / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith(f"{TITLE}\n\n{MARKER}\n\n## 1.1.0 (")
    assert "* second thing (" in text


def test_cut_keeps_hand_written_bytes(released, release):
    original = (INTRO + MARKER + "\n\n" + OLD).encode("utf-8")
    (released.path / "CHANGELOG.md").write_bytes(original)
    released.git("add", "CHANGELOG.md")
    released.git("commit", "-q", "-m", "docs: changelog intro")
    cut(release, released)
    new = (released.path / "CHANGELOG.md").read_bytes()
    head = (INTRO + MARKER + "\n\n").encode("utf-8")
    assert new.startswith(head)
    assert new.endswith(OLD.encode("utf-8"))
    inserted = new[len(head) : len(new) - len(OLD.encode("utf-8"))].decode("utf-8")
    assert inserted.startswith("## 1.1.0 (") and "* second thing (" in inserted


def test_cut_keeps_crlf_and_unicode_bytes(released, release):
    original = "# Journal\r\n\r\nÉté — « ça » ✨\r\n\r\n## 1.0.0\r\n\r\n* corrigé\r\n".encode()
    (released.path / "CHANGELOG.md").write_bytes(original)
    released.git("add", "CHANGELOG.md")
    released.git("commit", "-q", "-m", "docs: journal")
    cut(release, released)
    new = (released.path / "CHANGELOG.md").read_bytes()
    assert new.startswith("# Journal\r\n\r\nÉté — « ça » ✨\r\n\r\n".encode())
    assert new.endswith("## 1.0.0\r\n\r\n* corrigé\r\n".encode())
    assert b"\n" not in new.replace(b"\r\n", b"")
    assert b"## 1.1.0 (" in new


def test_cut_dry_run_diff_of_a_crlf_file_shows_only_the_insertion(released, release):
    original = b"# Changelog\r\n\r\nIntro\r\n\r\n## 1.0.0\r\n\r\n* old\r\n"
    (released.path / "CHANGELOG.md").write_bytes(original)
    released.git("add", "CHANGELOG.md")
    released.git("commit", "-q", "-m", "docs: changelog")
    result = cut(release, released, "--dry-run")
    removed = [line for line in result.out.splitlines() if line.startswith("-") and not line.startswith("---")]
    assert removed == []
    assert "+## 1.1.0 (" in result.out
    assert (released.path / "CHANGELOG.md").read_bytes() == original


def test_changelog_already_has_the_version(released, release):
    text = f"# Changelog\n\n{MARKER}\n\n## 1.1.0 (2024-01-01)\n\n* written by hand\n"
    released.commit("docs: prepare 1.1.0", {"CHANGELOG.md": text})
    result = cut(release, released)
    assert result.out == "1.1.0\n"
    assert (released.path / "CHANGELOG.md").read_text(encoding="utf-8") == text
    assert released.git("tag", "--list", "v1.1.0") == "v1.1.0"


def test_changelog_not_utf8_is_an_expected_failure(released, release):
    released.commit("docs: latin-1", {"CHANGELOG.md": ""})
    (released.path / "CHANGELOG.md").write_bytes("# Changelog\n\nÉté\n".encode("latin-1"))
    released.git("commit", "-q", "-am", "docs: latin-1 changelog")
    before = released.head()
    result = release(released, "cut")
    assert result.code == 1, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("release: error:") and "CHANGELOG.md" in lines[0]
    assert released.head() == before
    assert released.git("tag", "--list", "v1.1.0") == ""


def test_keep_a_changelog_unreleased_section_stays_on_top():
    original = "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- something\n\n## [1.0.0] - 2024-01-01\n\n- first\n"
    new = insert(original, SECTION, "1.1.0")
    assert new is not None
    assert new.startswith("# Changelog\n\n## [Unreleased]\n\n### Added\n\n- something\n\n")
    assert new.index("## [Unreleased]") < new.index("## [1.1.0]") < new.index("## [1.0.0]")
    assert new.endswith("## [1.0.0] - 2024-01-01\n\n- first\n")
