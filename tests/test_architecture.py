"""The layout's rules that import-linter cannot see (its contracts, in pyproject.toml, cover imports).

ARCHITECTURE.md explains each rule; these tests fail, naming the place, when code breaks one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "release"
MAX_FUNCTION_LINES = 60
MAX_STAGE_LINES = 300
STAGE_NAMES = {"NAME", "skip", "run"}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def shown(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent)) if path.is_relative_to(PACKAGE.parent) else path.name


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_function_is_longer_than_sixty_lines() -> None:
    long = [
        f"{shown(path)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in modules()
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, "split these functions: " + "; ".join(long)


@pytest.mark.parametrize("path", sorted((PACKAGE / "stages").glob("[!_]*.py")), ids=lambda p: p.stem)
def test_a_stage_is_thin(path: Path) -> None:
    """A stage module has a NAME, a skip check and a run, nothing else public, and stays short: its work lives
    in a domain package."""
    tree = parsed(path)
    defined = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    public = {name for name in defined if not name.startswith("_")}
    assert public == STAGE_NAMES, f"{shown(path)} defines {sorted(public - STAGE_NAMES)} besides NAME, skip, run"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_STAGE_LINES, f"{shown(path)} has {lines} lines"


def private_uses(path: Path, here: str | None = None) -> list[str]:
    """`from release.x import _name`, and `alias._name` where alias is a release module imported here."""
    tree = parsed(path)
    here = here or module_name(path)
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("release"):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if alias.name.startswith("_") and not alias.name.startswith("__") and node.module != here:
                    found.append(f"{shown(path)}:{node.lineno} imports {target}")
                aliases[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("release") and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            found.append(f"{shown(path)}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    return found


def test_private_names_stay_in_their_module() -> None:
    found = [use for path in modules() for use in private_uses(path)]
    assert not found, "make these public in the module that owns them: " + "; ".join(found)


def test_the_private_name_check_sees_both_forms(tmp_path: Path) -> None:
    """The check above is only worth something if it finds what it looks for."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from release.adapters.gitclone import _ci_identity\nfrom release.adapters import git\ngit._RETRY\n",
        encoding="utf-8",
    )
    found = private_uses(sample, here="release.stages.sample")
    assert [f.split(" ", 1)[1] for f in found] == [
        "imports release.adapters.gitclone._ci_identity",
        "uses release.adapters.git._RETRY",
    ]


DRY_RUN_ALLOWED = {
    "release/cli.py": "options are parsed (and the face prints a dry run's diff)",
    "release/context.py": "the Options that carry it to Context.build",
    "release/adapters/effects.py": "the one place that chooses the recording adapter",
}


def test_dry_run_is_an_adapter_not_a_flag() -> None:
    """Stages and domains never ask whether this is a dry run: they call ctx.effects, real or recording."""
    found = sorted(
        f"{shown(path)}:{number}"
        for path in modules()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "dry_run" in line and shown(path) not in DRY_RUN_ALLOWED
    )
    assert not found, "go through ctx.effects instead of reading dry_run: " + ", ".join(found)


# --- start-up: a command imports only what it uses --------------------------------------------------------------

HEAVY = ("requests", "urllib3", "docker", "jinja2", "release.pipeline", "release.images", "release.charts")
LOADED = """\
import sys
from release.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("\\n".join(sorted(sys.modules)))
print("exit", code)
"""


def loaded_by(cwd: Path, *args: str) -> set[str]:
    """The modules a real `release ARGS` process has imported when it is done."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    proc = subprocess.run(
        [sys.executable, "-c", LOADED, *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    lines = proc.stdout.splitlines()
    assert lines[-1] == "exit 0", proc.stderr
    return set(lines[:-1])


@pytest.mark.parametrize("args", [(), ("--help",), ("version",), ("plan",), ("plan", "--json")])
def test_planning_commands_do_not_import_the_image_chart_and_template_stacks(tmp_path: Path, args: tuple[str]) -> None:
    import subprocess

    repo = tmp_path / "app"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "feat: first"], cwd=repo, check=True)
    loaded = loaded_by(repo, *(args or ("--version",)))
    assert "release.cli" in loaded
    if args and args[0] in ("version", "plan"):
        assert "release.source.plans" in loaded  # it did plan, from a real repository
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert heavy == [], f"release {' '.join(args)} imported {heavy}"


def test_the_stage_names_in_the_help_are_the_pipeline_s() -> None:
    from release import cli, pipeline

    assert cli.STAGE_NAMES == pipeline.NAMES
