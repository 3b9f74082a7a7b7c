"""Context (config, repo facts, CI facts, options) and State (the release manifest stages hand forward)."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from release import config as config_module
from release.adapters import effects as side_effects
from release.adapters.git import Git
from release.ciinfo import CIInfo, detect
from release.config import Config
from release.errors import ReleaseError

STATE_DEFAULT = ".release/state.json"


@dataclass(frozen=True)
class Options:
    directory: str = "."
    config_path: str | None = None
    branch: str | None = None
    component: str | None = None
    state_path: str | None = None
    dry_run: bool = False
    bump: str | None = None  # --bump major|minor|patch
    prerelease: str | None = None  # --prerelease TOKEN
    environments: tuple[str, ...] = ()  # `release run --environment`: promote these instead of the automatic ones
    allow_dirty: bool = False  # --allow-dirty: publish from a working tree with uncommitted changes
    sign: bool = False  # --sign: sign what is published to OCI registries, as with `signing: sigstore`


@dataclass
class State:
    """The release manifest: what has been decided and done, so a rerun or a later CI job can pick it up."""

    version: str | None = None
    tag: str | None = None
    sha: str | None = None
    previous_version: str | None = None
    notes_path: str | None = None
    released: bool = False  # the release tag is on the remote (or, with no remote, made here)
    tested: str | None = None  # the commit whose test commands passed in this release (the test stage)
    components: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ReleaseError(
                f"state file {path} is unreadable ({exc})", "delete it to start this release over, or restore it"
            ) from None
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(data, dict) or not set(data) <= known:
            raise ReleaseError(
                f"state file {path} was not written by this version of release",
                "delete it to start this release over",
            )
        return cls(**data)

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


@dataclass
class Context:
    git: Git
    config: Config
    ci: CIInfo
    options: Options
    env: Mapping[str, str]
    state: State = field(default_factory=State)
    cache: dict[str, Any] = field(default_factory=dict)  # facts computed once per run (the plans)
    say: Callable[[str], None] = field(default=lambda line: None)  # progress lines (stderr, secrets masked)
    effects: side_effects.Effects = field(default_factory=side_effects.Live)  # every side effect; recorded in a dry run

    @property
    def root(self) -> Path:
        return self.git.cwd

    @property
    def state_path(self) -> Path:
        return self.root / (self.options.state_path or self.env.get("RELEASE_STATE") or STATE_DEFAULT)

    @classmethod
    def build(cls, options: Options, env: Mapping[str, str] | None = None) -> Context:
        env = dict(os.environ if env is None else env)
        git = Git.open(Path(options.directory))
        config = config_module.load(git.cwd, options.config_path)
        ctx = cls(git=git, config=config, ci=detect(env), options=options, env=env)
        ctx.effects = side_effects.choose(options.dry_run, lambda line: ctx.say(line))
        ctx.state = State.load(ctx.state_path)
        return ctx

    def branch(self) -> str | None:
        """--branch, then the CI's variables, then the checked-out branch (None on a bare detached HEAD)."""
        return self.options.branch or self.ci.branch or self.git.branch()
