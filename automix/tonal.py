"""Tonal matching on the master: EQ gains that move the mix's centroid and band balance to the style.

Both soft tonal targets are functions of the time-averaged spectrum of the
mid signal, and a linear EQ multiplies that spectrum by its magnitude
response: ``mag' = |H| mag`` and ``power' = |H|^2 power``. So the effect of
any master EQ setting on the centroid and band balance is computed exactly
from the spectrum of the signal entering the EQ, without re-rendering. That
signal is the bus after the master's trim and compressor (the stages before
the EQ): a compressor working a few dB on a bus reshapes its averaged
spectrum (a 14 dB squash moved a low share from 0.29 to 0.42), so the bus
itself is the wrong reference. ``|H|`` comes from
the EQ plugin's own section design (:func:`plugins.eq.eq_sections`), so there
is no second implementation of the filters to drift.

The search moves the master low shelf, mid peak (peak2) and high shelf
gains, with a small penalty per dB so it prefers gentle moves. When its
answer still misses a target, :func:`reach` finds how far the EQ could take
each target alone, so the report can tell "out of reach" from "traded off".
The search is solved to convergence on that smooth cost, so a session recorded at another level gets the same EQ to within what
its inputs differ by (a loosely solved search landed up to 1 dB apart).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.optimize import minimize

from automix.meters.spectral import BAND_EDGES_HZ
from automix.settings import PluginSettings
from automix.styles import StyleTargets
from plugins import get_plugin

MOVED = ("low_shelf_gain_db", "peak2_gain_db", "high_shelf_gain_db")
#: penalty per dB^2 of EQ move, relative to a squared error of one tolerance
_MOVE_COST = 0.002


def eq_magnitude(params: dict, sample_rate: int, freqs: np.ndarray) -> np.ndarray:
    """|H(f)| of the EQ at ``freqs`` (Hz), from its float64 design (the sections the twins run).

    The float64 design rather than a float32 render: the search below needs a
    cost that is smooth in the gains, or round-off of the input decides where it
    stops. It differs from the float32 coefficients pedalboard runs by far less
    than the spectrum estimate's own error (-70 dB at the lowest shelf corner).
    """
    from scipy.signal import sosfreqz

    from plugins.eq import eq_sections

    sections = eq_sections(sample_rate, exact_f32=False, **params)[0].numpy()  # (7, [b0, b1, b2, a1, a2])
    sos = np.concatenate([sections[:, :3], np.ones((len(sections), 1)), sections[:, 3:]], axis=1)
    _, h = sosfreqz(sos, worN=np.asarray(freqs, dtype=np.float64), fs=sample_rate)
    return np.abs(h)


def bus_spectrum(path: str, sample_rate: int, before: Sequence[PluginSettings] = (), input_gain_db: float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(freqs, mean |X|, mean |X|^2) of the mid signal of a stereo file, frames as the meter's.

    ``before`` (and a leading ``input_gain_db``) is run over the file first, streaming
    through the production engine: the master stages ahead of the EQ.

    Uses the meter's frames (Hann, half-frame hop from the first sample, complete
    frames only) and its 60 dB frame selection, so before any EQ it reads what
    the meter reads. Two streaming passes keep memory flat: the
    first finds each frame's windowed energy in the time domain, the second
    sums the spectra of the frames that pass the gate.
    """
    import soundfile as sf

    from automix.meters.spectral import FRAME_FLOOR_DB, frame_size

    n = frame_size(sample_rate)
    window = np.hanning(n + 1)[:-1]
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)

    def blocks():
        from automix.audio_io import BLOCK_FRAMES
        from automix.engines.pedalboard_engine import StreamingChain, build_stages

        chain = StreamingChain(build_stages(sample_rate, before, input_gain_db or None), sample_rate, BLOCK_FRAMES)
        with sf.SoundFile(path) as f:
            for block in f.blocks(blocksize=BLOCK_FRAMES, dtype="float32", always_2d=True):
                yield chain.process(np.ascontiguousarray(block.T))
        yield chain.flush()

    hop = n // 2

    def frames():
        rest = np.zeros(0)
        for block in blocks():
            mid = np.concatenate([rest, 0.5 * (block[0] + block[-1]).astype(np.float64)])
            k = (mid.size - n) // hop + 1 if mid.size >= n else 0
            rest = mid[k * hop:]
            if k:
                yield np.lib.stride_tricks.sliding_window_view(mid, n)[::hop][:k] * window

    loudest = max((float((w * w).sum(axis=1).max()) for w in frames()), default=0.0)
    mag_sum, power_sum, count = np.zeros(freqs.size), np.zeros(freqs.size), 0
    if loudest > 0.0:
        floor = loudest * 10.0 ** (FRAME_FLOOR_DB / 10.0)
        for w in frames():
            kept = w[(w * w).sum(axis=1) >= floor]
            if len(kept):
                spec = np.fft.rfft(kept, axis=1)
                power = spec.real ** 2 + spec.imag ** 2
                mag_sum += np.sqrt(power).sum(axis=0)
                power_sum += power.sum(axis=0)
                count += len(kept)
    return freqs, mag_sum / max(count, 1), power_sum / max(count, 1)


def tonal_measures(freqs: np.ndarray, mag: np.ndarray, power: np.ndarray) -> tuple[float, np.ndarray]:
    """(centroid Hz, band shares low/mid/high) from an averaged magnitude and power spectrum."""
    total = mag.sum()
    centroid = float((freqs * mag).sum() / total) if total > 0 else 0.0
    lo, hi = BAND_EDGES_HZ
    bands = np.array([power[freqs < lo].sum(), power[(freqs >= lo) & (freqs <= hi)].sum(), power[freqs > hi].sum()])
    return centroid, bands / max(bands.sum(), 1e-300)


def match_tone(freqs: np.ndarray, mag: np.ndarray, power: np.ndarray, eq: PluginSettings, style: StyleTargets,
               sample_rate: int) -> tuple[PluginSettings, dict]:
    """Return master EQ settings that best reach the style's centroid and band balance, and what they predict."""
    spec = get_plugin("eq")
    target_c = style.spectral_centroid_hz
    target_b = np.array(style.frequency_balance.as_tuple())
    tol_c = style.tolerances.centroid_rel
    tol_b = style.tolerances.balance_abs
    base = dict(eq.params)
    start = np.array([base[k] for k in MOVED])
    bounds = [(spec.spec(k).minimum, spec.spec(k).maximum) for k in MOVED]

    def predict(g):
        params = dict(base, **dict(zip(MOVED, map(float, g))))
        h = eq_magnitude(params, sample_rate, freqs)
        return tonal_measures(freqs, h * mag, h * h * power)

    def cost(g):
        c, b = predict(g)
        err_c = np.log(max(c, 1.0) / target_c) / np.log1p(tol_c)
        err_b = (b - target_b) / tol_b
        return err_c ** 2 + 0.5 * float(np.sum(err_b ** 2)) + _MOVE_COST * float(np.sum((g - start) ** 2))

    before = predict(start)
    # Solved to convergence on a smooth cost: the same session at another recording level must get the same EQ
    # (level invariance), and a loosely solved search lands wherever its path stops, up to ~1 dB apart for
    # round-off inputs. Not snapped to a coarse grid: the predicted EQ frequencies this starts from move by a
    # fraction of a hertz with the recording level (the envelope features' grid), and a 0.1 dB grid turned that
    # into an occasional whole 0.1 dB step (a -48 dB null); the result varies as little as its inputs do.
    best = minimize(cost, start, method="L-BFGS-B", bounds=bounds,
                    options={"ftol": 1e-14, "gtol": 1e-10, "eps": 1e-6, "maxiter": 500})
    gains = np.clip(best.x, [b[0] for b in bounds], [b[1] for b in bounds])
    after = predict(gains)
    params = dict(base, **{k: round(float(v), 3) for k, v in zip(MOVED, gains)})
    info = {
        "centroid_before_hz": before[0], "centroid_predicted_hz": after[0],
        "balance_before": before[1].tolist(), "balance_predicted": after[1].tolist(),
        "moves_db": {k: round(float(v - s), 2) for k, v, s in zip(MOVED, gains, start)},
    }
    # Only when the match itself predicts a miss: then the report has to say whether the target was out of
    # the EQ's reach or given up for the other target (a pass costs nothing extra).
    if abs(after[0] / target_c - 1) > tol_c or np.max(np.abs(after[1] - target_b)) > tol_b:
        info["reach"] = reach(predict, gains, bounds, target_b)
    return PluginSettings("eq", params), info


def reach(predict, start: np.ndarray, bounds: list, target_balance: np.ndarray) -> dict:
    """How far the moved master EQ gains can take each tonal target alone, every other goal ignored.

    ``predict(gains) -> (centroid Hz, shares)`` is the exact effect of the EQ on
    the spectrum; ``start`` (dB) is where the searches begin and ``bounds`` the
    gains' ranges. Returns ``centroid_range_hz`` [lowest, highest];
    ``balance_best_error``, the smallest max |share - target| any setting gets;
    and for the band that best setting misses most, ``balance_limit``: how far
    that band's share alone can be pushed toward its target (``{"band": i,
    "share": s}``). A target outside these is one no master EQ setting reaches
    on this material, whatever the loss weights: the report says so.
    """
    def solve(cost):
        return minimize(cost, start, method="L-BFGS-B", bounds=bounds, options={"ftol": 1e-12, "maxiter": 200}).x

    lowest = predict(solve(lambda g: np.log(max(predict(g)[0], 1e-9))))[0]
    highest = predict(solve(lambda g: -np.log(max(predict(g)[0], 1e-9))))[0]
    # sum of squares is smooth; the reported error is the max over bands, as the target's
    best = predict(solve(lambda g: float(np.sum((predict(g)[1] - target_balance) ** 2))))[1]
    band = int(np.argmax(np.abs(best - target_balance)))
    sign = 1.0 if best[band] < target_balance[band] else -1.0
    # in log: a band the material barely has holds shares of 1e-8, whose plain gradients stop the search at once
    limit = predict(solve(lambda g: -sign * np.log(max(float(predict(g)[1][band]), 1e-300))))[1][band]
    return {"centroid_range_hz": [round(float(lowest), 1), round(float(highest), 1)],
            "balance_best_error": round(float(np.max(np.abs(best - target_balance))), 4),
            "balance_limit": {"band": band, "share": float(f"{limit:.4g}")}}  # shares can be 1e-8
