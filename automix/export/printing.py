"""Printed stems: every stem through its channel strip, the pre-master sum and the master, as audio files.

One streaming render of the settings (the same blocks and arithmetic as ``automix render``) writes

- ``NN <track>.wav`` per stem: after its strip (input gain, EQ, compressor, saturation, fader, pan, width),
  stereo, so the printed stems sum to the pre-master sample for sample;
- ``premaster.wav``: that sum (the master chain's input before the bus trim);
- ``master.wav``: the sum through the master chain, the same samples as the mix,

all at the session rate, sample-aligned from time zero and of one length. Float (32-bit) by default: a
strip may peak above 0 dBFS before the master's trim, which float keeps and 24-bit would clip (printing
24-bit says which files clipped). Every file is written under a temporary name and all are moved in place
only when the render has finished: an error or interrupt leaves the folder as it was.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from automix.export.common import claim, ensure_folder, track_names
from automix.settings import MixSettings

#: the printed file formats: libsndfile subtypes
PRINT_FORMATS = {"float": "FLOAT", "24": "PCM_24"}


def print_names(settings: MixSettings) -> list[str]:
    """The file name of each stem's print, in stem order (``01 Kick.wav``...)."""
    width = max(2, len(str(len(settings.stems))))
    return [f"{i + 1:0{width}d} {name}.wav" for i, name in enumerate(track_names(settings))]


def print_stems(settings: MixSettings, folder: str | os.PathLike, *, fmt: str = "float", force: bool = False,
                threads: int = 1) -> dict:
    """Write the printed stems, ``premaster.wav`` and ``master.wav`` into ``folder`` (created if missing).

    Returns ``{"files": [paths], "seconds": duration, "clipped": [paths over 0 dBFS in a 24-bit print]}``.
    Raises ``E_EXISTS`` (before any work) if a file would be replaced and ``force`` is False.
    """
    from automix.audio_io import AtomicWriter, output_tag, probe
    from automix.engines.pedalboard_engine import render_stream
    from automix.errors import UsageError

    if fmt not in PRINT_FORMATS:
        raise UsageError(f"print format {fmt!r} is not one of: {', '.join(PRINT_FORMATS)}")
    for stem in settings.stems:
        probe(stem.path)
    inputs = [s.path for s in settings.stems]
    out = ensure_folder(folder)
    paths = [out / n for n in print_names(settings)] + [out / "premaster.wav", out / "master.wav"]
    for p in paths:
        claim(p, force=force, inputs=inputs)
    sr, subtype = settings.sample_rate, PRINT_FORMATS[fmt]
    writers = []
    peaks = np.zeros(len(paths))
    try:
        for p in paths:
            writers.append(AtomicWriter(p, sr, 2, subtype, protect=tuple(inputs), tag=output_tag()))
        n = len(settings.stems)

        def write(k: int, block: np.ndarray) -> None:
            writers[k].write(block)
            if block.shape[1]:
                peaks[k] = max(peaks[k], float(np.abs(block).max()))

        result = render_stream(settings, lambda b: write(n + 1, b), threads=threads,
                               strip_sink=write, bus_sink=lambda b: write(n, b))
        for w in writers:
            w.commit()
    except BaseException:
        for w in writers:
            w.abort()
        raise
    clipped = [str(p) for p, peak in zip(paths, peaks) if fmt == "24" and peak > 1.0]
    return {"files": [str(p) for p in paths], "seconds": result.frames / sr, "clipped": clipped}


def printed_stem_paths(settings: MixSettings, folder: str | os.PathLike) -> list[Path]:
    """Where :func:`print_stems` puts each stem's print in ``folder``."""
    return [Path(folder) / n for n in print_names(settings)]
