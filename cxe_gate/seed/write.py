"""Writing a seeded suite without ever destroying a hand edit: a manifest beside the suite records a
hash of every part the seeder wrote (header, constant, test), and a re-seed rewrites a part only if
it still has that hash; a part a person edited, deleted or added stays as they left it, and the
seeded version of an edited part goes into `reseed.diff` (a patch to apply or not).

Why this way rather than keeping generated data in a separate file: the steps are what a QA team
reads and edits, so they stay in the test; the per-part manifest lets the tests nobody touched
follow the recordings while the edited ones stay the team's. Files are written with LF endings,
and a re-seed of the same input leaves `git diff` empty."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from .parts import WHOLE, Part, split

MANIFEST = "seed-manifest.json"
DIFF = "reseed.diff"
_DIFF_HEAD = (
    "# cxe-gate seed: the seeded versions of parts a person edited (the suite keeps the edits).\n"
    "# Apply what you want of it from this directory: patch -p1 < reseed.diff\n"
)


class Manifest(BaseModel):
    """What the seeder last wrote: file → part → hash of the seeded text."""

    model_config = ConfigDict(extra="forbid")

    about: str = "cxe-gate seed: the parts it wrote, to tell hand edits from them on a re-seed"
    version: int = 1
    files: dict[str, dict[str, str]]
    # test → the key of the journey it replays (names.journey_key): the truth for a test's name
    tests: dict[str, str] = {}


@dataclass(frozen=True)
class Kept:
    """A part a re-seed left as a person made it, and why."""

    file: str
    part: str
    reason: str


@dataclass
class Reseeded:
    written: list[Path] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    diff: str = ""  # the seeded versions of kept parts, as a unified diff ("" when none)
    diff_file: Path | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Merged:
    text: str  # what is written
    proposed: str  # the same with the seeded versions of edited parts
    kept: list[Kept]


def _load_manifest(path: Path, notes: list[str]) -> Manifest | None:
    if not path.exists():
        return None
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        notes.append(
            f"{path}: not a seed manifest ({str(exc).splitlines()[0]}): every existing part that "
            "differs from its seeded version is kept as edited"
        )
        return None


def _assemble(
    new: str, parts: list[Part], texts: dict[str, str | None], after: dict[str, list[str]]
) -> str:
    """The seeded file with some parts replaced (None: left out) and others added after a part."""
    lines = new.split("\n")
    out: list[str] = []
    done = 0
    for part in parts:
        text = texts.get(part.key, part.text)
        if text is not None:
            out.extend(lines[done : part.start])
            out.extend(text.split("\n"))
        for extra in after.get(part.key, []):
            out.extend(["", "", *extra.split("\n")])
        done = part.end
    out.extend(lines[done:])
    return "\n".join(out)


def _merge(name: str, old: str | None, new: str, recorded: dict[str, str] | None) -> _Merged:
    if old is None or old == new:
        return _Merged(new, new, [])
    new_parts, old_parts = split(name, new) or [], split(name, old)
    if old_parts is None:
        return _Merged(old, new, [Kept(name, WHOLE, "does not parse: kept as it is")])
    seeded = {p.key: p for p in new_parts}
    known = recorded or {}

    def edited(part: Part) -> bool:
        if part.key in known:
            return part.digest != known[part.key]
        return part.key not in seeded or part.text != seeded[part.key].text

    texts: dict[str, str | None] = {}
    proposals: dict[str, str | None] = {}
    kept: list[Kept] = []
    present = {p.key for p in old_parts}
    for part in new_parts:
        news = known.get(part.key) != part.digest  # the seeder has something new for it
        if part.key not in present:
            if part.key in known:  # written last time, since deleted by a person
                texts[part.key] = None
                proposals[part.key] = part.text if news else None
                kept.append(Kept(name, part.key, "deleted by hand: not written again"))
            continue
        mine = next(p for p in old_parts if p.key == part.key)
        if edited(mine):
            texts[part.key] = mine.text
            if news and mine.text != part.text:
                proposals[part.key] = part.text
            seen = "; its seeded version is in the diff" if part.key in proposals else ""
            kept.append(Kept(name, part.key, f"edited by hand: kept{seen}"))
    # Parts the seeder no longer writes: kept if edited, hand-written or still used.
    staying = [t for t in texts.values() if t is not None]
    after: dict[str, list[str]] = {}
    anchor = new_parts[0].key if new_parts else ""
    for part in old_parts:
        if part.key in seeded:
            anchor = part.key
            continue
        used = any(re.search(rf"\b{re.escape(part.key)}\b", t) for t in staying)
        if part.key in known and not edited(part) and not used:
            continue  # seeded, untouched, its journey gone: removed
        reason = (
            "edited by hand, no longer seeded: kept"
            if part.key in known and edited(part)
            else "still used by a kept part: kept"
            if part.key in known
            else "not written by the seeder: kept"
        )
        kept.append(Kept(name, part.key, reason))
        after.setdefault(anchor, []).append(part.text)
        staying.append(part.text)
    text = _assemble(new, new_parts, texts, after)
    proposed = _assemble(new, new_parts, {**texts, **proposals}, after)
    return _Merged(text, proposed, kept)


def _diff(name: str, text: str, proposed: str) -> str:
    lines = difflib.unified_diff(
        text.splitlines(keepends=True),
        proposed.splitlines(keepends=True),
        fromfile=f"a/{name}",
        tofile=f"b/{name}",
    )
    return "".join(lines)


def reseed(
    directory: Path, files: dict[str, str], tests: Mapping[str, str] | None = None
) -> Reseeded:
    """Writes the seeded `files` into `directory`, keeping every hand edit (see the module), and
    records `tests` (test name → journey key, codegen.seeded_tests) in the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    result = Reseeded()
    manifest = _load_manifest(directory / MANIFEST, result.notes)
    diffs = []
    recorded: dict[str, dict[str, str]] = {}
    for name, content in sorted(files.items()):
        path = directory / name
        recorded[name] = {p.key: p.digest for p in split(name, content) or []}
        try:
            old = path.read_bytes().decode("utf-8").replace("\r\n", "\n") if path.exists() else None
        except UnicodeDecodeError:
            result.kept.append(Kept(name, WHOLE, "not UTF-8 text: kept as it is"))
            continue
        merged = _merge(name, old, content, manifest.files.get(name) if manifest else None)
        path.write_bytes(merged.text.encode("utf-8"))
        result.written.append(path)
        result.kept.extend(merged.kept)
        if merged.proposed != merged.text:
            diffs.append(_diff(name, merged.text, merged.proposed))
    dump = Manifest(files=recorded, tests=dict(tests or {})).model_dump_json(indent=2)
    (directory / MANIFEST).write_bytes((dump + "\n").encode("utf-8"))
    result.written.append(directory / MANIFEST)
    diff_file = directory / DIFF
    if diffs:
        result.diff = "".join(diffs)
        diff_file.write_bytes((_DIFF_HEAD + result.diff).encode("utf-8"))
        result.diff_file = diff_file
    elif diff_file.exists():
        diff_file.unlink()  # ours, from an earlier re-seed: nothing is pending now
    return result


def write_suite(directory: Path, files: dict[str, str]) -> list[Path]:
    """`reseed`, giving the paths written (its kept parts and diff are on disk beside them)."""
    return reseed(directory, files).written
