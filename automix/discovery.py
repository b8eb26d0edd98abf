"""Find the sessions in a folder, whatever else the folder holds.

Rules (in this order):

* A **session** is a direct subfolder of ``IN_DIR`` holding audio files
  (``.wav .flac .aif .aiff`` in any letter case; ``.mp3 .ogg`` are accepted
  with a warning: they are decoded by libsndfile, which trims no encoder delay
  and adds no offset). Its stems are the audio files directly in it; if it
  has none but a nested folder has some (``song/stems/*.wav``), the audio
  files found below it are its stems, with a warning. A subfolder with no
  audio at any depth is not a session: it is skipped with a note.
* If ``IN_DIR`` itself holds audio and no such subfolder, ``IN_DIR`` is one
  session named after itself. If it holds both, its loose audio files are
  skipped with a note.
* Files automix wrote itself (a mix or render: a ``.settings.json`` / ``.report.json`` sidecar of the same
  name, or automix's tag in the header) are never stems: skipped with a note, so a mix written into the
  session folder does not join the next run.
* Junk is skipped with a note: hidden files and folders (``.DS_Store``,
  ``._*`` AppleDouble resource forks, ``.git``), ``Thumbs.db``,
  ``desktop.ini`` and every non-audio file (text, images, ``.reapeaks``...).
* Symbolic links: a link whose target lies outside ``IN_DIR`` is skipped with
  a note unless ``follow_links`` (then it is used like a regular entry). A
  link loop (``a -> a``, ``up -> ..``) or a second way into a folder already
  visited is skipped with a note; nothing is ever walked twice, so discovery
  cannot hang. A **dangling** link named like audio is kept as a stem, so
  the session fails up front with ``E_MISSING`` instead of being mixed
  silently without it; any other dangling link is skipped with a note.
* ``automix.yaml`` (or ``automix.yml``) in a session folder may override, for
  that session only::

      style: rnb_ballad            # a style name (of --targets or of `targets` below)
      targets: my_targets.yaml     # a targets file, relative to the session folder
      roles:                       # stem file name -> role (automix.roles.ROLES)
        Lead Vox.wav: vocal

  Unknown keys, wrong types, unknown roles and YAML errors make that session
  fail up front with ``E_CONFIG``; the other sessions are unaffected.

Nothing here reads audio samples or writes anything.
"""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from automix.audio_io import AUDIO_EXTENSIONS, LOSSY_EXTENSIONS, written_by_automix
from automix.errors import UsageError

__all__ = ["Session", "SessionConfig", "Discovery", "discover_sessions", "is_audio_name", "CONFIG_NAMES"]

CONFIG_NAMES = ("automix.yaml", "automix.yml")
#: Session names that would collide with the runner's own files in OUT_DIR.
RESERVED_NAMES = ("ledger.jsonl", "summary.json", "ledger.jsonl.lock")
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "icon\r"}
#: Nested folders are searched this deep below a session folder.
MAX_DEPTH = 6


def is_audio_name(name: str) -> bool:
    """True for a file name with an audio extension we read (any letter case), junk excluded."""
    return not _is_junk_name(name) and os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def _is_junk_name(name: str) -> bool:
    return name.startswith(".") or name.lower() in _JUNK_NAMES


@dataclass(frozen=True)
class SessionConfig:
    """Per-session overrides read from ``automix.yaml``."""

    path: str | None = None
    style: str | None = None
    targets: str | None = None
    roles: dict[str, str] | None = None
    error: str | None = None


@dataclass
class Session:
    """One session to render.

    Attributes:
        name: output folder name under ``OUT_DIR`` (the session folder's name).
        folder: the session folder (absolute, links not resolved).
        stems: stem paths (absolute, sorted case-insensitively by name).
        warnings: what discovery noticed about this session (lossy stems,
            nested stems, skipped links and junk).
        config: the ``automix.yaml`` overrides.
        dangling: stems that are dangling symbolic links (``path -> target``).
    """

    name: str
    folder: str
    stems: list[str]
    warnings: list[str] = field(default_factory=list)
    config: SessionConfig = field(default_factory=SessionConfig)
    dangling: dict[str, str] = field(default_factory=dict)


@dataclass
class Discovery:
    """Sessions found, plus notes about everything that was skipped and why."""

    root: str
    sessions: list[Session]
    notes: list[str]


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Walker:
    def __init__(self, root: Path, follow_links: bool, exclude: tuple[str, ...]):
        self.root = root
        self.root_real = os.path.realpath(root)
        self.follow_links = follow_links
        self.exclude = tuple(os.path.realpath(p) for p in exclude)
        self.visited: set[tuple[int, int]] = set()

    def rel(self, path: str | Path) -> str:
        try:
            return os.path.relpath(path, self.root)
        except ValueError:
            return str(path)

    def classify(self, path: Path) -> tuple[str, str]:
        """(kind, detail): kind in file, dir, dangling, loop, outside, other, unreadable."""
        is_link = os.path.islink(path)
        try:
            st = os.stat(path)  # follows links
        except OSError as e:
            if is_link and e.errno == errno.ELOOP:
                return "loop", "symbolic link loop"
            if is_link and e.errno in (errno.ENOENT, errno.ENOTDIR):
                return "dangling", os.readlink(path)
            return "unreadable", e.strerror or str(e)
        if is_link:
            real = os.path.realpath(path)
            if not self.follow_links and not _inside(real, self.root_real):
                return "outside", real
        import stat as _stat

        if _stat.S_ISDIR(st.st_mode):
            return "dir", ""
        if _stat.S_ISREG(st.st_mode):
            return "file", ""
        return "other", "not a regular file"

    def entries(self, folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: (e.name.casefold(), e.name))
        except OSError as e:
            raise _Unlistable(e.strerror or str(e)) from None

    def enter(self, folder: Path) -> bool:
        """Mark a folder visited; False if it was already (a loop or a second way in)."""
        try:
            st = os.stat(folder)
        except OSError:
            return False
        key = (st.st_dev, st.st_ino)
        if key in self.visited or os.path.realpath(folder) in self.exclude:
            return False
        self.visited.add(key)
        return True

    def scan(self, folder: Path, notes: list[str]) -> tuple[list[str], list[Path], dict[str, str]]:
        """(audio files, subfolders, dangling audio links) directly in ``folder``; notes what it skips."""
        audio, dirs, dangling, junk = [], [], {}, []
        for e in self.entries(folder):
            p = Path(folder, e.name)
            if _is_junk_name(e.name):
                junk.append(e.name)
                continue
            if e.name in CONFIG_NAMES:
                continue
            kind, detail = self.classify(p)
            if kind == "file":
                own = written_by_automix(p) if is_audio_name(e.name) else None
                if own:
                    notes.append(f"{self.rel(p)}: written by automix ({own}); not a stem")
                elif is_audio_name(e.name):
                    audio.append(str(p))
                else:
                    junk.append(e.name)
            elif kind == "dir":
                dirs.append(p)
            elif kind == "dangling" and is_audio_name(e.name):
                audio.append(str(p))
                dangling[str(p)] = detail
            elif kind == "dangling":
                notes.append(f"{self.rel(p)}: dangling symbolic link (-> {detail}); skipped")
            elif kind == "loop":
                notes.append(f"{self.rel(p)}: symbolic link loop; skipped")
            elif kind == "outside":
                notes.append(f"{self.rel(p)}: symbolic link leaving the input folder (-> {detail}); skipped "
                             "(use --follow-links to include it)")
            else:
                notes.append(f"{self.rel(p)}: {detail}; skipped")
        if junk:
            shown = ", ".join(junk[:5]) + (f" and {len(junk) - 5} more" if len(junk) > 5 else "")
            where = self.rel(folder)
            notes.append(f"{where if where != '.' else 'input folder'}: skipped {len(junk)} non-audio "
                         f"file{'s' if len(junk) != 1 else ''} ({shown})")
        return audio, dirs, dangling

    def nested(self, folder: Path, notes: list[str], depth: int = 1):
        """Audio files below ``folder`` (depth-first, loop-safe), with the folders they came from."""
        audio, sources, dangling = [], [], {}
        if depth > MAX_DEPTH:
            notes.append(f"{self.rel(folder)}: deeper than {MAX_DEPTH} levels; not searched")
            return audio, sources, dangling
        try:
            files, dirs, dang = self.scan(folder, notes)
        except _Unlistable as e:
            notes.append(f"{self.rel(folder)}: cannot be listed ({e}); skipped")
            return audio, sources, dangling
        if files:
            audio += files
            sources.append(folder)
            dangling.update(dang)
        for d in dirs:
            if not self.enter(d):
                notes.append(f"{self.rel(d)}: already visited (symbolic link loop or duplicate link); skipped")
                continue
            a, s, dg = self.nested(d, notes, depth + 1)
            audio += a
            sources += s
            dangling.update(dg)
        return audio, sources, dangling


class _Unlistable(Exception):
    pass


def _load_config(folder: Path) -> SessionConfig:
    path = next((folder / n for n in CONFIG_NAMES if (folder / n).is_file()), None)
    if path is None:
        return SessionConfig()
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as e:
        return SessionConfig(path=label, error=f"{label}: not valid YAML ({str(e).splitlines()[0]}); fix the file")
    if data is None:
        return SessionConfig(path=label)
    if not isinstance(data, dict):
        return SessionConfig(path=label, error=f"{label}: expected a mapping with style/targets/roles")
    unknown = sorted(set(map(str, data)) - {"style", "targets", "roles"})
    if unknown:
        return SessionConfig(path=label, error=f"{label}: unknown key(s) {', '.join(unknown)}; "
                                               "allowed: style, targets, roles")
    for key in ("style", "targets"):
        if key in data and not isinstance(data[key], str):
            return SessionConfig(path=label, error=f"{label}: {key} must be a string, got {data[key]!r}")
    roles = data.get("roles")
    if roles is not None:
        from automix.roles import ROLES

        if not isinstance(roles, dict):
            return SessionConfig(path=label, error=f"{label}: roles must map stem file names to roles")
        for k, v in roles.items():
            if not isinstance(k, str) or not isinstance(v, str) or v not in ROLES:
                return SessionConfig(path=label, error=f"{label}: roles.{k} = {v!r} is not a role; "
                                                       f"use one of {', '.join(ROLES)}")
    targets = data.get("targets")
    if targets is not None:
        targets = str((folder / targets)) if not os.path.isabs(targets) else targets
    return SessionConfig(path=label, style=data.get("style"), targets=targets,
                         roles=dict(roles) if roles is not None else None)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (plain PyYAML keeps the last one)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise ValueError(f"duplicate key {key!r} (line {key_node.start_mark.line + 1})")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _session(walker: _Walker, name: str, folder: Path, notes: list[str]) -> Session | None:
    local: list[str] = []
    try:
        files, dirs, dangling = walker.scan(folder, local)
    except _Unlistable as e:
        notes.append(f"{walker.rel(folder)}: cannot be listed ({e}); skipped")
        return None
    warnings = []
    if files:
        for d in dirs:
            local.append(f"{walker.rel(d)}: nested folder ignored (the session folder holds stems itself)")
    else:
        for d in dirs:
            if not walker.enter(d):
                local.append(f"{walker.rel(d)}: already visited (symbolic link loop or duplicate link); skipped")
                continue
            a, sources, dg = walker.nested(d, local, 2)
            files += a
            dangling.update(dg)
            if a:
                warnings.append("stems found only in nested folder(s) "
                                + ", ".join(walker.rel(s) for s in sources) + "; using them")
    notes += local
    if not files:
        notes.append(f"{walker.rel(folder)}: no audio files; not a session")
        return None
    files.sort(key=lambda p: (os.path.relpath(p, folder).casefold(), p))
    for f in files:
        if f.lower().endswith(LOSSY_EXTENSIONS):
            warnings.append(f"{os.path.relpath(f, folder)}: lossy stem (mp3/ogg) decoded by libsndfile "
                            "(no encoder-delay offset); prefer WAV/FLAC")
    # notes about skipped links and junk concern this session: the report shows them too
    warnings += [n for n in local if "symbolic link" in n or "nested folder ignored" in n or "written by automix" in n]
    return Session(name=name, folder=str(folder), stems=files, warnings=warnings,
                   config=_load_config(folder), dangling=dangling)


def discover_sessions(in_dir: str | os.PathLike, *, follow_links: bool = False,
                      exclude: tuple[str, ...] = ()) -> Discovery:
    """Find the sessions under ``in_dir`` (see the module docstring for the rules).

    Args:
        in_dir: the folder of sessions (or one session folder).
        follow_links: also use symbolic links whose target lies outside ``in_dir``.
        exclude: folders never to enter (the output folder when it sits inside).

    Returns:
        :class:`Discovery`, sessions sorted by name.

    Raises:
        UsageError: ``in_dir`` is not a readable folder.
    """
    root = Path(os.path.abspath(in_dir))
    if not root.is_dir():
        raise UsageError(f"{in_dir}: not a folder; point automix batch at a folder of sessions")
    walker = _Walker(root, follow_links, exclude)
    walker.enter(root)
    notes: list[str] = []
    try:
        top_files, top_dirs, top_dangling = walker.scan(root, notes)
    except _Unlistable as e:
        raise UsageError(f"{in_dir}: cannot be listed ({e})") from None
    sessions: list[Session] = []
    # real folders first, so a link to a session folder is the duplicate, not the original
    ordered = sorted(top_dirs, key=lambda d: (os.path.islink(d), d.name.casefold(), d.name))
    for d in ordered:
        if not walker.enter(d):
            notes.append(f"{d.name}: already visited (symbolic link loop or link to another session); skipped")
            continue
        if d.name in RESERVED_NAMES:
            notes.append(f"{d.name}: name reserved for the runner's own files in the output folder; skipped")
            continue
        s = _session(walker, d.name, d, notes)
        if s is not None:
            sessions.append(s)
    if sessions:
        if top_files:
            notes.append(f"input folder: {len(top_files)} loose audio file(s) next to session folders skipped "
                         f"({', '.join(os.path.basename(f) for f in top_files[:5])})")
    elif top_files:
        top_files.sort(key=lambda p: (os.path.basename(p).casefold(), p))
        warnings = [f"{os.path.basename(f)}: lossy stem (mp3/ogg) decoded by libsndfile (no encoder-delay offset); "
                    "prefer WAV/FLAC" for f in top_files if f.lower().endswith(LOSSY_EXTENSIONS)]
        sessions.append(Session(name=root.name or "session", folder=str(root), stems=top_files,
                                warnings=warnings, config=_load_config(root), dangling=top_dangling))
    sessions.sort(key=lambda s: (s.name.casefold(), s.name))
    return Discovery(root=str(root), sessions=sessions, notes=notes)
