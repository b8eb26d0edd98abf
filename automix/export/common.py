"""What every export shares: loading the settings it describes, claiming its outputs, naming the tracks.

A track is named after its stem file (``Lead Vox.wav`` -> ``Lead Vox``), in the settings' stem order;
names stay as they are (unicode, spaces), two stems with the same file name get `` (2)``, `` (3)``...
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from automix.errors import OutputError, UsageError
from automix.settings import MixSettings, PluginSettings


def load_settings(settings_path: str | os.PathLike, *, checked: bool = True) -> MixSettings:
    """The settings at ``settings_path`` (stem paths resolved next to it), after checking that every stem is
    still the file the mix was made from (:func:`automix.provenance.check_stems`) unless ``checked`` is False."""
    from automix.provenance import check_stems

    settings = MixSettings.load(settings_path)
    check_stems(settings, require=checked)
    return settings


def claim(path: str | os.PathLike, *, force: bool, inputs: Sequence[str] = (), suffixes: Sequence[str] = ()) -> Path:
    """Check that ``path`` may be written: the right extension, its folder exists, it is not an input, and it does
    not exist unless ``force``. Nothing is written here; raises :class:`OutputError` with the fix."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{path}: the file name should end in {' or '.join(suffixes)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"{path}: output folder {folder} does not exist; create it first")
    if path.exists():
        if any(os.path.exists(q) and os.path.samefile(q, path) for q in inputs):
            raise OutputError(f"{path}: refusing to overwrite an input file; choose another output name")
        if not force:
            raise OutputError(f"{path}: exists already; pass --force to replace it", code="E_EXISTS")
    return path


def report_beside(settings_path: str | os.PathLike) -> dict | None:
    """The mix's report written with the settings (``X.settings.json`` -> ``X.report.json``, a batch session's
    ``settings.json`` -> ``report.json``, whose ``mix`` it returns); ``None`` when there is none or it is
    unreadable (a report is context for an export, never required)."""
    import json

    p = Path(settings_path)
    if not p.name.endswith("settings.json"):
        return None
    try:
        data = json.loads(p.with_name(p.name[: -len("settings.json")] + "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("mix"), dict):
        data = data["mix"]
    return data if isinstance(data, dict) else None


def track_names(settings: MixSettings) -> list[str]:
    """One display name per stem (the file name without its extension), unique within the session."""
    names, seen = [], {}
    for stem in settings.stems:
        base = Path(stem.path).stem or "stem"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return names


@dataclass
class Strip:
    """A stem's chain as a DAW channel holds it: processors (in order), then the channel's volume and pan.

    ``inserts`` are the stages before the fader; ``volume_db`` and ``pan`` the fader's ``gain`` and the ``pan``
    stage after it; ``post`` whatever else follows the fader (the width stage), which a DAW can only place
    before its fader: exact for a width stage when the pan is centre or the width 1.
    """

    inserts: list[PluginSettings]
    volume_db: float
    pan: float
    post: list[PluginSettings]


def split_strip(chain: Sequence[PluginSettings]) -> Strip:
    """Split a stem chain at its fader (:func:`~automix.engines.pedalboard_engine.fader_index`)."""
    from automix.engines.pedalboard_engine import fader_index

    cut = fader_index(chain)
    inserts, rest = list(chain[:cut]), list(chain[cut:])
    volume = 0.0
    if rest and rest[0].plugin == "gain":
        volume = float(rest.pop(0).params["gain_db"])
    pan = 0.0
    if rest and rest[0].plugin == "pan":
        pan = float(rest.pop(0).params["pan"])
    return Strip(inserts, volume, pan, rest)


def ensure_folder(path: str | os.PathLike, create: bool = True) -> Path:
    """The folder at ``path``, made if missing (its parent must exist) unless ``create`` is False (then only
    checked, before long work)."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder}: exists and is not a folder; give a folder for the printed stems")
    if not folder.parent.is_dir() and str(folder.parent):
        raise OutputError(f"{folder}: its parent folder does not exist; create it first")
    if create:
        folder.mkdir(exist_ok=True)
    return folder
