"""Pure: Helm's version constraints (Masterminds/semver v3 syntax) for chart dependencies.

`>=0.0.0 <1.0.0`, `^1.2`, `~1.2.3`, `1.2.x`, `*`, `1.2 - 1.4.5`, `>=1 <2 || >=3`, `!=1.2.5`. Comparators in a
group are ANDed (space or comma), groups ORed with `||`. As in Masterminds, a version with a prerelease only
matches a group that itself names a prerelease.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import semver

from release.errors import ReleaseError

_PART = r"(?:0|[1-9]\d*|[xX*])"
_VERSION = rf"v?(?P<major>{_PART})(?:\.(?P<minor>{_PART}))?(?:\.(?P<patch>{_PART}))?(?P<rest>[-+][0-9A-Za-z.+-]+)?"
_COMPARATOR = re.compile(rf"^(?P<op>>=|=>|<=|=<|!=|>|<|=|~>|~|\^)?\s*{_VERSION}$")
_HYPHEN = re.compile(r"^\s*(\S+)\s+-\s+(\S+)\s*$")


@dataclass(frozen=True)
class _Bound:
    op: str  # one of > >= < <= = !=
    version: semver.Version

    def allows(self, v: semver.Version) -> bool:
        c = v.compare(self.version)
        return {
            ">": c > 0,
            ">=": c >= 0,
            "<": c < 0,
            "<=": c <= 0,
            "=": c == 0,
            "!=": c != 0,
        }[self.op]


@dataclass(frozen=True)
class _Group:
    bounds: tuple[_Bound, ...]
    prerelease: bool  # the group names a prerelease, so prereleases may match

    def allows(self, v: semver.Version) -> bool:
        if v.prerelease and not self.prerelease:
            return False
        return all(b.allows(v) for b in self.bounds)


@dataclass(frozen=True)
class Constraint:
    text: str
    groups: tuple[_Group, ...]

    def allows(self, version: semver.Version) -> bool:
        return any(g.allows(version) for g in self.groups)

    def best(self, versions: Iterable[semver.Version]) -> semver.Version | None:
        return max((v for v in versions if self.allows(v)), default=None)


def parse(text: str) -> Constraint:
    groups = []
    for part in text.split("||"):
        part = part.strip()
        if not part:
            raise _bad(text)
        bounds: list[_Bound] = []
        pre = False
        hyphen = _HYPHEN.match(part)
        pieces = [f">={hyphen[1]}", f"<={hyphen[2]}"] if hyphen else re.split(r"\s*,\s*|\s+(?![^<>=!~^]*$)", part)
        pieces = _join_operators(pieces)
        for piece in pieces:
            found, named_pre = _comparator(piece, text)
            bounds.extend(found)
            pre = pre or named_pre
        groups.append(_Group(tuple(bounds), pre))
    return Constraint(text, tuple(groups))


def _join_operators(pieces: list[str]) -> list[str]:
    """`>= 1.2` (operator and version apart) is one comparator."""
    joined: list[str] = []
    for piece in (p for p in pieces if p):
        if joined and re.fullmatch(r">=|=>|<=|=<|!=|>|<|=|~>|~|\^", joined[-1]):
            joined[-1] += piece
        else:
            joined.append(piece)
    return joined


def _comparator(piece: str, text: str) -> tuple[list[_Bound], bool]:
    match = _COMPARATOR.match(piece.strip())
    if not match:
        raise _bad(text)
    op = match["op"] or "="
    op = {"=>": ">=", "=<": "<=", "~>": "~"}.get(op, op)
    parts = [match["major"], match["minor"], match["patch"]]
    wild = [p is None or p in ("x", "X", "*") for p in parts]
    nums = [0 if w else int(p) for p, w in zip(parts, wild, strict=True)]
    rest = match["rest"] or ""
    try:
        base = semver.Version.parse(f"{nums[0]}.{nums[1]}.{nums[2]}{rest}")
    except ValueError:  # a prerelease or build part SemVer refuses (`1.0.0-01`, `1.0.0-a..b`)
        raise _bad(text) from None
    pre = "-" in rest
    if wild[0]:  # *, x: anything (or nothing, for < and !=)
        return ([] if op in (">=", "<=", "=", "~", "^", ">") else [_Bound("<", semver.Version(0))]), pre
    if op == "^":
        if nums[0] > 0 or wild[1]:
            upper = base.bump_major()
        elif nums[1] > 0 or wild[2]:
            upper = base.bump_minor()
        else:
            upper = base.bump_patch()
        return [_Bound(">=", base), _Bound("<", _floor(upper))], pre
    if op == "~":
        upper = base.bump_major() if wild[1] else base.bump_minor()
        return [_Bound(">=", base), _Bound("<", _floor(upper))], pre
    if op in ("=", "!=") and (wild[1] or wild[2]):
        upper = _floor(base.bump_major() if wild[1] else base.bump_minor())
        if op == "=":
            return [_Bound(">=", base), _Bound("<", upper)], pre
        return [_Bound("<", base)], pre  # a simplification: != 1.2.x as "below 1.2"; rare in Chart.yaml
    if op == ">" and (wild[1] or wild[2]):
        return [_Bound(">=", _floor(base.bump_major() if wild[1] else base.bump_minor()))], pre
    if op == "<=" and (wild[1] or wild[2]):
        return [_Bound("<", _floor(base.bump_major() if wild[1] else base.bump_minor()))], pre
    return [_Bound(op, base)], pre


def _floor(version: semver.Version) -> semver.Version:
    return semver.Version(version.major, version.minor, version.patch)


def _bad(text: str) -> ReleaseError:
    return ReleaseError(f"version constraint {text!r} is not one Helm understands", 'e.g. ">=1.0.0 <2.0.0" or "^1.2"')
