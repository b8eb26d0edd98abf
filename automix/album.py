"""Albums: the sessions of a batch mastered as one record.

An album has one style (one tonal target) and one loudness anchor, the style's loudness. Its tracks do not
all sit at the anchor: a sparse ballad played at the level of a dense rocker sounds pushed, which is why the
platforms' album normalisation keeps the offsets between the tracks of an album. automix derives each track's
offset from its material: the loudness of the session's stems summed at equal loudness (every stem at
-23 LUFS, as the mixer's input normalisation puts them), its *natural loudness*, which grows with how many
parts play at once and how much they overlap. The densest track sits at the anchor; each other track sits
below it by half its natural-loudness difference (:data:`OFFSET_SCALE`), never more than
:data:`MAX_OFFSET_LU` below: the arrangement's density keeps its direction and part of its size, as a
mastering engineer levelling an album would. The offsets are a rule of thumb made explicit, reported per track
so an engineer can disagree with them.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from automix.constants import REFERENCE_LUFS

#: the share of a track's natural-loudness difference to the densest track that its offset keeps
OFFSET_SCALE = 0.5
#: the furthest a track sits below the anchor (LU)
MAX_OFFSET_LU = 4.0


def natural_loudness(stems: Sequence[str]) -> float:
    """Integrated loudness (LUFS) of ``stems`` each normalised to :data:`REFERENCE_LUFS` and summed (at the
    session's rate, shorter stems padded with silence); ``-inf`` when every stem is silent."""
    from automix.audio_io import BLOCK_FRAMES, StemReader, output_frames, probe
    from automix.meters.loudness import LoudnessAccumulator
    from automix.mixer import session_rate
    from automix.render import normalisation_gain_db

    infos = [probe(p) for p in stems]
    sr = session_rate([i.sample_rate for i in infos])
    frames = max(output_frames(i, sr) for i in infos)
    total = np.zeros((2, frames), np.float64)
    for info in infos:
        x = np.zeros((2, frames), np.float64)
        meter = LoudnessAccumulator(sr, 2)
        with StemReader(info, sr) as reader:
            for start in range(0, frames, BLOCK_FRAMES):
                block = reader.read(min(BLOCK_FRAMES, frames - start)).astype(np.float64)
                x[:, start:start + block.shape[1]] = block
                meter.process(block)
        gain = normalisation_gain_db(meter.result()["integrated_lufs"], REFERENCE_LUFS)
        total += x * 10.0 ** (gain / 20.0)
    meter = LoudnessAccumulator(sr, 2)
    meter.process(total)
    return float(meter.result()["integrated_lufs"])


def album_offsets(natural: dict[str, float]) -> dict[str, float]:
    """Each track's offset from the anchor (LU, <= 0) from its natural loudness (see the module docstring);
    tracks whose natural loudness is unknown sit at the anchor."""
    known = [v for v in natural.values() if math.isfinite(v)]
    if not known:
        return {k: 0.0 for k in natural}
    top = max(known)
    return {k: (round(max(OFFSET_SCALE * (v - top), -MAX_OFFSET_LU), 2) if math.isfinite(v) else 0.0)
            for k, v in natural.items()}


def album_summary(tracks: list[dict]) -> dict:
    """The album's spread from its tracks' final meters: ``tracks`` rows with ``offset_lu`` (intended) and the
    report's ``final`` meters (``integrated_lufs``, ``spectral_centroid_hz``, ``ms_ratio``); the offset each
    track landed at (from the album's loudest intended track) and its error, and the standard deviation of the
    centroid and M/S across the album."""
    done = [t for t in tracks if t.get("final")]
    if not done:
        return {"tracks": tracks}
    anchor = max(done, key=lambda t: t["offset_lu"])
    for t in done:
        t["landed_offset_lu"] = t["final"]["integrated_lufs"] - anchor["final"]["integrated_lufs"]
        t["offset_error_lu"] = t["landed_offset_lu"] - (t["offset_lu"] - anchor["offset_lu"])

    def sd(key):
        vals = [t["final"][key] for t in done if t["final"].get(key) is not None]
        return float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0

    return {"tracks": tracks, "centroid_sd_hz": sd("spectral_centroid_hz"), "ms_sd": sd("ms_ratio"),
            "max_offset_error_lu": max(abs(t["offset_error_lu"]) for t in done)}
