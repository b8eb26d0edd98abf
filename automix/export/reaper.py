"""A REAPER project (.RPP) of a mix: one track per stem, at its fader and pan, reading the original files.

What the project keeps:

- one track per stem, in stem order, named as :func:`~automix.export.common.track_names` names it;
- the track's volume (linear, from the fader's ``gain_db``) and pan (-1 hard left .. +1 right) as ``VOLPAN``;
- one item per track at 0 s, as long as its stem (s), whose source is the stem file by a path relative to the
  .RPP's folder, so the project still opens after the folder is moved or copied elsewhere;
- the stem's ``input_gain_db`` as the item's volume (trim), since it is a gain on the source before the chain;
- with ``prints_folder`` (written by :func:`~automix.export.printing.print_stems`): a muted track
  ``<name> (printed)`` beneath each stem track holding its printed stem, and a muted ``Master (printed)`` track
  holding ``master.wav`` when the folder has one.

What it cannot keep: the EQ, compressor, saturation and width stages and the whole master chain (bus trim,
master processors). REAPER stores plugin state as binary blobs that cannot be written from parameters, so
these exist only as printed audio; REAPER's master stays at unity (``MASTER_VOLUME 1 0 -1 -1 1``). The pan
position is exact, but REAPER applies its own pan law/mode (project default), which off centre can differ
from automix's constant-power balance by up to 3 dB; the printed tracks hold the exact result.

Why prints are tracks and not second takes: a print is taken after the fader and pan, but a take plays
through its track's fader and pan, so a printed take would get them twice (and a take pan cannot undo a
track pan). On a track of its own at unity and centre the print plays as rendered; the tracks are muted so
that opening the project plays the stems through their faders, and unmuting a print (and muting its stem)
swaps one for the other.

Re-exporting the same session gives the same bytes: GUIDs come from the settings' content and the header's
time stamp is the newest stem's modification time, not the clock.
"""
from __future__ import annotations

import hashlib
import math
import os
import uuid
from pathlib import Path

from automix.audio_io import probe, write_text_atomic
from automix.errors import UsageError
from automix.export.common import claim, split_strip, track_names
from automix.export.printing import printed_stem_paths
from automix.settings import MixSettings

#: namespace of the deterministic GUIDs (uuid5)
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://automix/export/reaper")
#: REAPER's source type by libsndfile container: the type picks REAPER's decoder, not the file's contents,
#: so a FLAC under ``<SOURCE WAVE`` would play silent. AIFF and the WAV family are all read by ``WAVE``.
_SOURCE_TYPES = {"FLAC": "FLAC", "MPEG": "MP3", "OGG": "VORBIS"}


def quote(text: str) -> str:
    """``text`` as one RPP token, quoted the way REAPER quotes: bare if it has no whitespace and no quote
    character; else in ``"``; in ``'`` if it holds a ``"``; in backticks if it holds both; if it holds all
    three, its backticks become ``'`` and it goes in backticks (RPP has no escapes). Line breaks, which no
    RPP token can hold, become spaces."""
    text = " ".join(text.splitlines())
    if text and not any(c.isspace() or c in "\"'`" for c in text):
        return text
    if '"' not in text:
        return f'"{text}"'
    if "'" not in text:
        return f"'{text}'"
    return f"`{text.replace('`', chr(39))}`"


def _num(x: float) -> str:
    """A number as REAPER reads it: plain decimal, no exponent for the magnitudes used here."""
    s = f"{x:.14f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def _media_path(path: str | os.PathLike, folder: Path) -> str:
    """``path`` relative to the project's folder, with ``/`` (which REAPER accepts on every OS); absolute when
    no relative path exists (another drive on Windows)."""
    try:
        return os.path.relpath(os.path.abspath(path), os.path.abspath(folder)).replace(os.sep, "/")
    except ValueError:
        return os.path.abspath(path)


def write_reaper(settings: MixSettings, out_path: str | os.PathLike, *, prints_folder: str | os.PathLike | None = None,
                 force: bool = False, tempo_bpm: float | None = None) -> Path:
    """Write the REAPER project of ``settings`` to ``out_path`` (``.rpp``) and return its path.

    ``prints_folder``: a folder written by :func:`~automix.export.printing.print_stems`, added as muted tracks.
    ``tempo_bpm``: the project tempo (beats per minute, 1..960; 120 if None); it moves nothing, the items are
    placed in seconds. Raises ``E_EXISTS`` if ``out_path`` exists and ``force`` is False, and the stem checks'
    errors (:func:`~automix.audio_io.probe`) for a missing or unreadable stem or print; nothing is written then.
    """
    tempo = 120.0 if tempo_bpm is None else float(tempo_bpm)
    if not (math.isfinite(tempo) and 1.0 <= tempo <= 960.0):
        raise UsageError(f"tempo {tempo_bpm!r} BPM is outside REAPER's range 1..960")
    stems = [s.path for s in settings.stems]
    prints = printed_stem_paths(settings, prints_folder) if prints_folder is not None else []
    out = claim(out_path, force=force, inputs=stems + [str(p) for p in prints], suffixes=(".rpp",))
    folder = out.parent if str(out.parent) else Path(".")
    infos = [probe(p) for p in stems]
    print_infos = [probe(p) for p in prints]
    master = Path(prints_folder, "master.wav") if prints_folder is not None else None
    master_info = probe(master) if master is not None and master.exists() else None

    seed = hashlib.sha256(settings.to_json().encode("utf-8")).hexdigest()

    def guid(*key) -> str:
        return "{" + str(uuid.uuid5(_NAMESPACE, ":".join(map(str, (seed, *key))))).upper() + "}"

    def track(key, name: str, volume: float, pan: float, muted: bool, info, trim: float) -> list[str]:
        kind = _SOURCE_TYPES.get(info.format, "WAVE")
        if kind == "VORBIS" and info.subtype == "OPUS":
            kind = "OPUS"
        return [f"  <TRACK {guid('track', *key)}",
                f"    NAME {quote(name)}",
                # volume (linear), pan, then REAPER's defaults: project pan law, no dual pan, width 1
                f"    VOLPAN {_num(volume)} {_num(pan)} -1 -1 1",
                f"    MUTESOLO {int(muted)} 0 0",
                "    <ITEM",
                "      POSITION 0",
                f"      LENGTH {_num(info.duration_s)}",
                "      LOOP 0",  # REAPER's default LOOP 1 would repeat the file if the length rounded up
                f"      IGUID {guid('item', *key)}",
                f"      NAME {quote(Path(info.path).name)}",
                # item trim (linear), take pan, take volume, take pan law (project default)
                f"      VOLPAN {_num(trim)} 0 1 -1",
                f"      GUID {guid('take', *key)}",
                f"      <SOURCE {kind}",
                f"        FILE {quote(_media_path(info.path, folder))}",
                "      >",
                "    >",
                "  >"]

    lines = [f'<REAPER_PROJECT 0.1 "7.0/automix" {max(int(os.path.getmtime(p)) for p in stems)}',
             # rate not forced on the audio device (field 2 = 0): REAPER resamples media as needed
             f"  SAMPLERATE {settings.sample_rate} 0 0",
             f"  TEMPO {_num(tempo)} 4 4",
             "  MASTER_VOLUME 1 0 -1 -1 1"]
    for i, (stem, name, info) in enumerate(zip(settings.stems, track_names(settings), infos)):
        strip = split_strip(stem.chain)
        lines += track((i,), name, 10 ** (strip.volume_db / 20), strip.pan, False, info,
                       10 ** (stem.input_gain_db / 20))
        if print_infos:  # the print already holds gain, fader and pan: unity, centre, no trim
            lines += track((i, "printed"), f"{name} (printed)", 1.0, 0.0, True, print_infos[i], 1.0)
    if master_info is not None:
        lines += track(("master",), "Master (printed)", 1.0, 0.0, True, master_info, 1.0)
    lines.append(">")
    write_text_atomic(out, "\n".join(lines) + "\n")
    return out
