"""Exports for other tools: printed stems, a DAWproject, a REAPER project, a table of the settings.

Each export reads a settings file (``X.settings.json`` of a mix, a batch session's ``settings.json`` or
one saved in the studio), checks that its stems are still the files the mix was made from
(:mod:`automix.provenance`), refuses to replace an existing output unless asked, and writes atomically.

- :mod:`automix.export.printing`: ``NN <track>.wav`` per stem after its strip, ``premaster.wav``,
  ``master.wav``
- :mod:`automix.export.dawproject`: ``.dawproject`` (Bitwig, Studio One, Cubase): tracks, clips, faders,
  pans and the moves as built-in devices; and its reader (a project back to settings)
- :mod:`automix.export.reaper`: ``.RPP`` (REAPER): tracks, items, volumes, pans, printed stems as takes
- :mod:`automix.export.table`: one CSV row per stem and the master, every move in engineering units
"""
from __future__ import annotations

import os
from pathlib import Path

#: every export kind, in the order the batch writes them (stems first: a REAPER project can take them as takes)
KINDS = ("stems", "dawproject", "reaper", "csv")


def parse_kinds(text: str) -> list[str]:
    """``"dawproject,reaper"`` -> the kinds, checked (a usage error names the valid ones)."""
    from automix.errors import UsageError

    kinds = [k.strip().lower() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise UsageError(f"unknown export {unknown[0] if unknown else text!r}; choose from {', '.join(KINDS)}")
    return [k for k in KINDS if k in kinds]


def export(kind: str, settings_path: str | os.PathLike, out: str | os.PathLike | None, *, force: bool = False,
           checked: bool = True, threads: int = 1, fmt: str = "float", reference_media: bool = False,
           tempo_bpm: float | None = None, prints: str | os.PathLike | None = None, settings=None,
           muted=(), soloed=()) -> list[str]:
    """Write one export of the settings at ``settings_path``; returns the files written.

    ``out`` is a folder for ``stems``, else a file (``csv`` with ``out=None`` returns ``["<csv text>"]``
    and writes nothing). ``settings`` (already loaded, e.g. the studio's current state) replaces reading
    the file; the file's folder still locates the report beside it. Every stem is checked against its
    recorded size and hash first unless ``checked`` is False (nothing is written on a mismatch).
    """
    from automix.export.common import load_settings, report_beside

    if kind not in KINDS:
        parse_kinds(kind)
    if settings is None:
        settings = load_settings(settings_path, checked=checked)
    else:
        from automix.provenance import check_stems

        check_stems(settings, require=checked)
    report = report_beside(settings_path) or {}
    title = Path(str(report.get("output") or settings_path)).stem.removesuffix(".settings")
    if kind == "stems":
        from automix.export.printing import print_stems

        return print_stems(settings, out, fmt=fmt, force=force, threads=threads)["files"]
    if kind == "dawproject":
        from automix.export.dawproject import write_dawproject

        return [str(write_dawproject(settings, out, reference_media=reference_media, force=force, title=title,
                                     style=report.get("style"), tempo_bpm=tempo_bpm, muted=muted,
                                     soloed=soloed))]
    if kind == "reaper":
        from automix.export.reaper import write_reaper

        return [str(write_reaper(settings, out, prints_folder=prints, force=force, tempo_bpm=tempo_bpm))]
    from automix.audio_io import write_text_atomic
    from automix.export.common import claim
    from automix.export.table import roles_beside, settings_table

    text = settings_table(settings, roles_beside(settings_path, len(settings.stems)))
    if out is None:
        return [text]
    claim(out, force=force, inputs=[s.path for s in settings.stems], suffixes=(".csv",))
    write_text_atomic(out, text)
    return [str(out)]
