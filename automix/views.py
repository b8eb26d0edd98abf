"""What the browser views of a mix draw, beside its report: ``OUT.views.json`` (schema :data:`SCHEMA`).

The report says what was measured and decided; this file holds the curves behind it, small enough to inline
in a page (tens of KB for a song):

- ``loudness``: momentary (400 ms) and short-term (3 s) loudness of the master and of the pre-master bus over
  time, LUFS, from the meters of the renders themselves (no second pass over the audio). Ten readings per
  second, max-pooled to at most :data:`MAX_POINTS` per curve (a peak survives the pooling); ``null`` where a
  window is silent.
- ``spectrum``: the long-term spectrum of the master and of the pre-master, as the shares of the magnitude
  spectrum in third-octave bands (:data:`automix.meters.spectral.THIRD_EDGES_HZ`), on the frames the centroid
  and band balance are measured on, so the bands sum to the report's band-balance shares.
- ``stereo``: M/S ratio, L/R correlation and mono fold-down loss of the master and the pre-master in five
  bands (:mod:`automix.meters.stereo`), from the same meters.
- ``loudness.master.true_peak_overs_s``: where the delivered master's true peak went above the style's ceiling
  (s, first :data:`MAX_OVERS`).
- ``eq_curves``: each stem's EQ and the master EQ as |H| in dB on a log frequency grid, from the EQ plugin's own
  section design (the filters the engines run).
"""
from __future__ import annotations

import math

import numpy as np

SCHEMA = "automix.views/1"
#: most points per loudness curve
MAX_POINTS = 1200
#: frequencies of the EQ curves: log-spaced, 20 Hz to 20 kHz
CURVE_HZ = tuple(float(f) for f in np.geomspace(20.0, 20000.0, 64))
#: most true-peak overs listed (the first ones)
MAX_OVERS = 500
#: readings per second of the momentary and short-term loudness (BS.1770's 100 ms step)
_READINGS_PER_S = 10


def _pooled(lufs: np.ndarray) -> tuple[list[float | None], float]:
    """``lufs`` max-pooled to at most :data:`MAX_POINTS` values (rounded to 0.01, ``None`` for silence) and the
    step between them (s)."""
    x = np.asarray(lufs, dtype=np.float64)
    width = max(1, math.ceil(x.size / MAX_POINTS))
    if width > 1:
        pad = (-x.size) % width
        x = np.concatenate([x, np.full(pad, -np.inf)]).reshape(-1, width).max(axis=1)
    return [round(float(v), 2) if math.isfinite(v) else None for v in x], width / _READINGS_PER_S


def _rounded(bands: dict | None) -> dict | None:
    """Per-band stereo values to 4 decimals (``None`` kept)."""
    if bands is None:
        return None
    return {k: [None if v is None else round(v, 4) for v in vals] if k != "edges_hz" else vals
            for k, vals in bands.items()}


def loudness_history(meter) -> dict:
    """``{"step_s", "momentary_lufs", "short_term_lufs"}`` of a :class:`~automix.meters.StreamingMeter`."""
    momentary, step = _pooled(meter.momentary_lufs())
    short_term, _ = _pooled(meter.short_term_lufs())
    return {"step_s": step, "momentary_lufs": momentary, "short_term_lufs": short_term}


def spectrum_axis() -> dict:
    """The third-octave bands: inner edges and a centre per band (Hz; the outer bands are open, their centres
    a sixth of an octave beyond the edge, the top one capped at the analysis Nyquist)."""
    from automix.meters.spectral import ANALYSIS_RATE, THIRD_EDGES_HZ

    edges = list(THIRD_EDGES_HZ)
    third = 2.0 ** (1 / 6)
    centres = [edges[0] / third] + [math.sqrt(a * b) for a, b in zip(edges, edges[1:])]
    centres.append(min(edges[-1] * third, ANALYSIS_RATE / 2))
    return {"edges_hz": [round(e, 2) for e in edges], "centres_hz": [round(c, 1) for c in centres]}


def eq_curves(settings) -> dict:
    """|H| (dB, 0.01 dB) of every stem's EQ and of the master EQ at :data:`CURVE_HZ`, by stem path."""
    from automix.tonal import eq_magnitude

    freqs = np.asarray(CURVE_HZ)
    nyquist = settings.sample_rate / 2

    def curve(chain):
        eq = next((p.params for p in chain if p.plugin == "eq"), None)
        if eq is None:
            return None
        magnitude = eq_magnitude(eq, settings.sample_rate, np.minimum(freqs, 0.999 * nyquist))
        db = 20.0 * np.log10(np.maximum(magnitude, 1e-6))  # |H| is linear; the views draw dB (floor -120)
        return [round(float(v), 2) for v in db]

    return {"freqs_hz": [round(f, 1) for f in CURVE_HZ],
            "stems": [{"path": s.path, "db": curve(s.chain)} for s in settings.stems],
            "master": curve(settings.master)}


def build_views(*, master_meter, premaster_meter, settings) -> dict:
    """The views file's content (see the module docstring); meters made with ``spectrum=True``."""
    master = loudness_history(master_meter)
    overs = master_meter.true_peak_overs_s()
    master["true_peak_overs_s"] = overs[:MAX_OVERS] if overs is not None else None
    return {
        "schema": SCHEMA,
        "duration_s": round(master_meter.samples / settings.sample_rate, 3),
        "loudness": {"master": master, "pre_master": loudness_history(premaster_meter)},
        "stereo": {"master": _rounded(master_meter.stereo_bands()), "pre_master": _rounded(premaster_meter.stereo_bands())},
        "spectrum": {**spectrum_axis(),
                     "master": [round(v, 5) for v in master_meter.spectrum()],
                     "pre_master": [round(v, 5) for v in premaster_meter.spectrum()]},
        "eq_curves": eq_curves(settings),
    }
