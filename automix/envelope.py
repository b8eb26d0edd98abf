"""The engineer's envelope: how far automix may move each control before a mix stops being one an engineer signs.

A mix can meet every number with moves nobody would make: a +13 dB boost, two EQ
sections undoing each other, a mono vocal "widened", the bass 10 dB over its
place. The envelope is data (``automix/styles/envelope.yaml`` holds the shared default;
a style's ``envelope:`` mapping overrides any field), and every stage that
chooses a move keeps it inside by construction: the predictor maps its outputs
into the envelope's box, the refinement optimises in that box, the master EQ
search and the master loop search within it. Where a soft target needs more,
the mix stops at the limit and the report says which limit bound it.

Definitions (every gain in dB, every frequency in Hz):

- **Stem EQ**: each peak's gain in ``[stem_eq_cut_min_db, stem_eq_boost_max_db]``,
  each shelf's within ``+-stem_shelf_max_abs_db``. The *net response* of the
  shelves and peaks (the high-pass left out), read on :data:`NET_GRID_HZ`
  (log-spaced from ``net_from_hz`` to ``net_to_hz``), stays within
  ``[stem_eq_net_min_db, stem_eq_net_max_db]``. *Fighting* is the sum of the
  sections' absolute gains minus the net response's range (max - min): 0 when
  sections never overlap in opposite directions; at most ``stem_eq_fight_max_db``.
- **Stem level**: the strip's level moves (fader ``gain.gain_db`` + compressor
  ``makeup_db`` + saturation ``trim_db``) within ``+-stem_level_range_db`` of its
  role's prior (the style's role balance, split among the stems sharing the role).
- **Width**: stems in ``[0, stem_width_max]``; a stem whose side is
  ``mono_side_floor_db`` or more below its mid keeps exactly 1.0; the master in
  ``[master_width_min, master_width_max]``.
- **Pan**: stems of ``centre_roles`` within ``+-centre_pan_max``.
- **Saturation**: stem drive at most ``stem_drive_max_db``.
- **Stem compressor**: threshold at or above ``stem_comp_threshold_min_db`` (dBFS;
  every stem enters its strip at -23 LUFS) and ratio at most ``stem_comp_ratio_max``:
  a few dB of gain reduction, not a stem squashed flat.
- **Master EQ**: peaks within ``+-master_peak_max_abs_db``, shelves within
  ``+-master_shelf_max_abs_db``, net response within ``+-master_eq_net_max_abs_db``.
- **Mono fold-down**: playing the master as ``(L+R)/2`` on both channels loses at
  most ``mono_folddown_loss_max_lu`` of integrated loudness.
- **Master compressor**: threshold at or above ``master_comp_threshold_min_db``
  (dBFS; the bus enters it trimmed to -18 LUFS) and ratio at most
  ``master_comp_ratio_max``: bus glue of a few dB, not a second limiter.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

__all__ = ["Envelope", "ENVELOPE_FIELDS", "NET_GRID_POINTS", "net_grid_hz", "Measure", "eq_net_response_db",
           "eq_fighting_db", "is_mono_ms_ratio", "is_mono_audio", "stems_mono", "role_priors_db", "stem_level_db",
           "stem_measures", "master_measures", "settings_measures", "violations", "at_limits", "limits_hit",
           "check_settings", "folddown_loss_db", "folddown_loss_file"]

#: points of the log-spaced grid the EQ's net response is read on
NET_GRID_POINTS = 96


@dataclass(frozen=True)
class Envelope:
    """Limits of the moves automix makes (see the module docstring for each definition).

    The values live in ``automix/styles/envelope.yaml`` (the shared default, read by
    :func:`automix.styles.default_envelope`) and a style's ``envelope:`` overrides.
    """

    stem_eq_boost_max_db: float
    stem_eq_cut_min_db: float
    stem_shelf_max_abs_db: float
    stem_eq_net_min_db: float
    stem_eq_net_max_db: float
    stem_eq_fight_max_db: float
    net_from_hz: float
    net_to_hz: float
    stem_level_range_db: float
    stem_width_max: float
    mono_side_floor_db: float
    master_width_min: float
    master_width_max: float
    centre_pan_max: float
    centre_roles: tuple[str, ...]
    stem_drive_max_db: float
    stem_comp_threshold_min_db: float
    stem_comp_ratio_max: float
    master_peak_max_abs_db: float
    master_shelf_max_abs_db: float
    master_eq_net_max_abs_db: float
    mono_folddown_loss_max_lu: float
    master_comp_threshold_min_db: float
    master_comp_ratio_max: float

    def __post_init__(self):
        object.__setattr__(self, "centre_roles", tuple(self.centre_roles))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["centre_roles"] = list(self.centre_roles)
        return out

    def replace(self, overrides: Mapping[str, Any]) -> "Envelope":
        """A copy with some fields overridden (values already validated)."""
        return Envelope(**{**asdict(self), **dict(overrides)})

    @property
    def max_ms_for_folddown(self) -> float:
        """The largest master M/S ratio whose mono fold-down loses at most ``mono_folddown_loss_max_lu``.

        Folding to ``(L+R)/2`` keeps the mid and drops the side, so a mix of M/S ratio ``r`` loses
        ``10 log10(1 + r^2)`` dB of power (and of K-weighted loudness, band by band, to the extent the
        side shares the mid's spectrum).
        """
        return float(np.sqrt(10.0 ** (self.mono_folddown_loss_max_lu / 10.0) - 1.0))


#: field names in definition order (the YAML schema's keys)
ENVELOPE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Envelope))


def net_grid_hz(envelope: Envelope) -> np.ndarray:
    """The log-spaced frequencies (Hz) where the EQ's net response is read, ``(NET_GRID_POINTS,)``."""
    return np.geomspace(envelope.net_from_hz, envelope.net_to_hz, NET_GRID_POINTS)


# ------------------------------------------------------------------------------------------------ the checker
#
# Written apart from the code that keeps moves inside the envelope: it reads finished settings (engineering
# units), the stems' roles, the style and which stems are mono, and lists every limit crossed, with numbers.
# The EQ's net response comes from the EQ plugin's own float64 section design, read with scipy.

#: a move this close to a limit (relative to the limit, plus a floor) counts as inside
REL_TOL = 1e-6
ABS_TOL = 1e-9
#: a move within this of a limit "sits at" it (for marking): dB quantities, and pan / width
AT_LIMIT_DB = 0.05
AT_LIMIT_UNIT = 0.01

_PEAKS = ("peak1", "peak2", "peak3")
_SHELVES = ("low_shelf", "high_shelf")


@dataclass(frozen=True)
class Measure:
    """One quantity the envelope bounds: ``value`` must lie in ``[lo, hi]`` (``None``: unbounded that side).

    ``limit`` names the envelope field (or fields, ``a/b``) that set the bound, ``control`` what was measured
    (``eq.peak2_gain_db``, ``eq.net_max_db``, ``level_vs_role_db``, ...), ``at`` the closeness that counts as
    sitting at a bound, ``mark`` which bounds may be marked as sat at (``"lo"``, ``"hi"``): an exact rule
    (a mono stem's width) is checked but never "at" a limit.
    """

    limit: str
    control: str
    value: float
    lo: float | None
    hi: float | None
    at: float = AT_LIMIT_DB
    mark: tuple[str, ...] = ("lo", "hi")

    def _slack(self, bound: float) -> float:
        return REL_TOL * abs(bound) + ABS_TOL

    @property
    def violated(self) -> bool:
        v = self.value
        if not math.isfinite(v):
            return True
        return ((self.lo is not None and v < self.lo - self._slack(self.lo))
                or (self.hi is not None and v > self.hi + self._slack(self.hi)))

    @property
    def at_limit(self) -> bool:
        """Within ``at`` of a markable bound (and not past it: see :attr:`violated`)."""
        if self.violated:
            return False
        return (("lo" in self.mark and self.lo is not None and self.value <= self.lo + self.at)
                or ("hi" in self.mark and self.hi is not None and self.value >= self.hi - self.at))

    def to_dict(self) -> dict[str, Any]:
        state = "violated" if self.violated else "at" if self.at_limit else "inside"
        return {"limit": self.limit, "control": self.control, "value": round(float(self.value), 3),
                "lo": self.lo, "hi": self.hi, "state": state}

    def describe(self) -> str:
        """``'eq.peak2_gain_db +9.00 > +6 (stem_eq_boost_max_db)'``."""
        if self.violated:
            rel = (f"< {self.lo:+g}" if self.lo is not None and self.value < self.lo else f"> {self.hi:+g}")
        else:
            rel = (f"at {self.lo:+g}" if self.lo is not None and abs(self.value - self.lo) <= self.at
                   else f"at {self.hi:+g}")
        return f"{self.control} {self.value:+.2f} {rel} ({self.limit})"


def _sos(eq_params: Mapping[str, float], sample_rate: float) -> np.ndarray:
    """The EQ's shelf and peak sections as scipy ``sos`` rows ``[b0 b1 b2 1 a1 a2]`` (the high-pass left out)."""
    from automix.inference import eq_sos

    return eq_sos(eq_params, sample_rate, highpass=False)


def eq_net_response_db(eq_params: Mapping[str, float], sample_rate: float, grid_hz: np.ndarray) -> np.ndarray:
    """Magnitude (dB) of the EQ's shelves and peaks together, without the high-pass, at ``grid_hz``.

    Frequencies at or above Nyquist are left out. Shape: ``(n,)`` -> ``(m,)``, ``m <= n``.
    """
    from automix.dsp import sos_response

    f = np.asarray(grid_hz, np.float64)
    f = f[f < sample_rate / 2.0]
    h = sos_response(_sos(eq_params, sample_rate), f, float(sample_rate))
    return 20.0 * np.log10(np.maximum(np.abs(h), 1e-300))


def eq_section_gains_db(eq_params: Mapping[str, float]) -> dict[str, float]:
    """Each shelf's and peak's gain (dB), by section name (``low_shelf``, ``peak1`` ... ``high_shelf``)."""
    return {name: float(eq_params[f"{name}_gain_db"]) for name in ("low_shelf",) + _PEAKS + ("high_shelf",)}


def eq_fighting_db(eq_params: Mapping[str, float], sample_rate: float, grid_hz: np.ndarray) -> float:
    """Sum of the sections' absolute gains minus the range (max - min) of their net response on ``grid_hz``."""
    net = eq_net_response_db(eq_params, sample_rate, grid_hz)
    spread = float(net.max() - net.min()) if net.size else 0.0
    return float(sum(abs(g) for g in eq_section_gains_db(eq_params).values()) - spread)


def is_mono_ms_ratio(ms_ratio: float, envelope: Envelope) -> bool:
    """Whether a stem of M/S ratio ``RMS(S)/RMS(M)`` has its side ``mono_side_floor_db`` or more below its mid."""
    if ms_ratio is None or not math.isfinite(ms_ratio):
        return False
    return ms_ratio <= 0.0 or 20.0 * math.log10(ms_ratio) <= envelope.mono_side_floor_db


def is_mono_audio(audio: np.ndarray, envelope: Envelope) -> bool:
    """:func:`is_mono_ms_ratio` of a ``(channels, samples)`` array (one channel: mono)."""
    x = np.asarray(audio, np.float64)
    if x.ndim == 1 or x.shape[0] == 1:
        return True
    mid, side = 0.5 * (x[0] + x[1]), 0.5 * (x[0] - x[1])
    e_m, e_s = float(np.dot(mid, mid)), float(np.dot(side, side))
    return e_s == 0.0 or (e_m > 0.0 and is_mono_ms_ratio(math.sqrt(e_s / e_m), envelope))


def stems_mono(features, envelope: Envelope) -> list[bool]:
    """Per stem, from its features' ``ms_ratio`` (a :class:`~automix.features.StemFeatures`, its ``values``
    dict, or a report stem's ``features``); a silent stem (placeholder features) counts as mono."""
    out = []
    for f in features:
        values = f if isinstance(f, Mapping) else f.values
        out.append(is_mono_ms_ratio(float(values.get("ms_ratio", 0.0)), envelope))
    return out


def role_priors_db(style, paths, roles) -> list[float]:
    """Each stem's level prior (dB): the style's role balance less ``10 log10(k)`` for ``k`` stems of a role,
    as :func:`automix.priors.stem_priors` sets the fader."""
    from automix.priors import stem_priors

    return [float({p.plugin: p.params for p in chain}["gain"]["gain_db"])
            for chain in stem_priors(style, list(paths), list(roles))]


def stem_level_db(params: Mapping[str, Mapping[str, float]]) -> float:
    """The strip's level move: fader + compressor make-up + saturation trim (dB); plugin name -> params."""
    return (float(params.get("gain", {}).get("gain_db", 0.0)) + float(params.get("compressor", {}).get("makeup_db", 0.0))
            + float(params.get("saturation", {}).get("trim_db", 0.0)))


def _by_plugin(chain) -> dict[str, Mapping[str, float]]:
    return {p.plugin: p.params for p in chain}


def stem_measures(chain, *, role: str, prior_db: float | None, mono: bool, envelope: Envelope,
                  sample_rate: float) -> list[Measure]:
    """Every envelope quantity of one stem's chain (``PluginSettings`` list)."""
    e, p = envelope, _by_plugin(chain)
    out: list[Measure] = []
    if "eq" in p:
        eq = p["eq"]
        for name in _PEAKS:
            out.append(Measure("stem_eq_cut_min_db/stem_eq_boost_max_db", f"eq.{name}_gain_db",
                               float(eq[f"{name}_gain_db"]), e.stem_eq_cut_min_db, e.stem_eq_boost_max_db))
        for name in _SHELVES:
            out.append(Measure("stem_shelf_max_abs_db", f"eq.{name}_gain_db", float(eq[f"{name}_gain_db"]),
                               -e.stem_shelf_max_abs_db, e.stem_shelf_max_abs_db))
        grid = net_grid_hz(e)
        net = eq_net_response_db(eq, sample_rate, grid)
        out.append(Measure("stem_eq_net_max_db", "eq.net_max_db", float(net.max()), None, e.stem_eq_net_max_db))
        out.append(Measure("stem_eq_net_min_db", "eq.net_min_db", float(net.min()), e.stem_eq_net_min_db, None))
        fight = float(sum(abs(g) for g in eq_section_gains_db(eq).values()) - (net.max() - net.min()))
        out.append(Measure("stem_eq_fight_max_db", "eq.fighting_db", fight, None, e.stem_eq_fight_max_db))
    if prior_db is not None:
        out.append(Measure("stem_level_range_db", "level_vs_role_db", stem_level_db(p) - prior_db,
                           -e.stem_level_range_db, e.stem_level_range_db))
    if "stereo_width" in p:
        w = float(p["stereo_width"]["width"])
        if mono:
            out.append(Measure("mono_side_floor_db", "width (mono stem)", w, 1.0, 1.0, at=0.0, mark=()))
        else:
            out.append(Measure("stem_width_max", "width", w, 0.0, e.stem_width_max, AT_LIMIT_UNIT, ("hi",)))
    if "pan" in p and role in e.centre_roles:
        out.append(Measure("centre_pan_max", "pan", float(p["pan"]["pan"]), -e.centre_pan_max, e.centre_pan_max,
                           AT_LIMIT_UNIT))
    if "saturation" in p and float(p["saturation"]["mix"]) > 0.0:
        out.append(Measure("stem_drive_max_db", "saturation.drive_db", float(p["saturation"]["drive_db"]), None,
                           e.stem_drive_max_db))
    if "compressor" in p and float(p["compressor"]["ratio"]) > 1.0:
        comp = p["compressor"]
        out.append(Measure("stem_comp_threshold_min_db", "compressor.threshold_db", float(comp["threshold_db"]),
                           e.stem_comp_threshold_min_db, None))
        out.append(Measure("stem_comp_ratio_max", "compressor.ratio", float(comp["ratio"]), None,
                           e.stem_comp_ratio_max, AT_LIMIT_UNIT))
    return out


def master_measures(chain, *, envelope: Envelope, sample_rate: float,
                    folddown_loss_db: float | None = None) -> list[Measure]:
    """Every envelope quantity of the master chain, and the measured mono fold-down loss if given."""
    e, p = envelope, _by_plugin(chain)
    out: list[Measure] = []
    if "eq" in p:
        eq = p["eq"]
        for name in _PEAKS:
            out.append(Measure("master_peak_max_abs_db", f"eq.{name}_gain_db", float(eq[f"{name}_gain_db"]),
                               -e.master_peak_max_abs_db, e.master_peak_max_abs_db))
        for name in _SHELVES:
            out.append(Measure("master_shelf_max_abs_db", f"eq.{name}_gain_db", float(eq[f"{name}_gain_db"]),
                               -e.master_shelf_max_abs_db, e.master_shelf_max_abs_db))
        net = eq_net_response_db(eq, sample_rate, net_grid_hz(e))
        out.append(Measure("master_eq_net_max_abs_db", "eq.net_max_db", float(net.max()), None,
                           e.master_eq_net_max_abs_db))
        out.append(Measure("master_eq_net_max_abs_db", "eq.net_min_db", float(net.min()),
                           -e.master_eq_net_max_abs_db, None))
    if "stereo_width" in p:
        out.append(Measure("master_width_min/master_width_max", "width", float(p["stereo_width"]["width"]),
                           e.master_width_min, e.master_width_max, AT_LIMIT_UNIT))
    if "compressor" in p:
        comp = p["compressor"]
        out.append(Measure("master_comp_threshold_min_db", "compressor.threshold_db", float(comp["threshold_db"]),
                           e.master_comp_threshold_min_db, None))
        out.append(Measure("master_comp_ratio_max", "compressor.ratio", float(comp["ratio"]), None,
                           e.master_comp_ratio_max, AT_LIMIT_UNIT))
    if folddown_loss_db is not None and math.isfinite(folddown_loss_db):
        out.append(Measure("mono_folddown_loss_max_lu", "mono_folddown_loss_db", float(folddown_loss_db), None,
                           e.mono_folddown_loss_max_lu))
    return out


def settings_measures(settings, roles, style, mono, *, folddown_loss_db: float | None = None,
                      envelope: Envelope | None = None) -> dict[str, Any]:
    """``{"stems": [[Measure, ...] per stem], "master": [Measure, ...]}`` for a whole :class:`MixSettings`.

    ``roles``: one role name per stem (or ``(role, source)`` pairs); ``style``: its ``envelope``,
    ``role_balance_db`` (``None``: the stem level is not checked); ``mono``: one bool per stem
    (:func:`stems_mono`).
    """
    env = envelope if envelope is not None else style.envelope
    names = [r[0] if isinstance(r, (tuple, list)) else r for r in roles]
    paths = [s.path for s in settings.stems]
    priors = role_priors_db(style, paths, names) if style is not None else [None] * len(paths)
    stems = [stem_measures(s.chain, role=r, prior_db=pr, mono=bool(m), envelope=env,
                           sample_rate=settings.sample_rate)
             for s, r, pr, m in zip(settings.stems, names, priors, mono)]
    master = master_measures(settings.master, envelope=env, sample_rate=settings.sample_rate,
                             folddown_loss_db=folddown_loss_db)
    return {"stems": stems, "master": master}


def violations(measures: list[Measure]) -> list[dict[str, Any]]:
    """The measures past a limit, as JSON-able dicts (``limit``, ``control``, ``value``, ``lo``, ``hi``, ``state``)."""
    return [m.to_dict() for m in measures if m.violated]


def at_limits(measures: list[Measure]) -> list[dict[str, Any]]:
    """The measures sitting at a limit (within :data:`AT_LIMIT_DB` / :data:`AT_LIMIT_UNIT`), not past it."""
    return [m.to_dict() for m in measures if m.at_limit]


def limits_hit(measures: list[Measure]) -> list[dict[str, Any]]:
    """Past or at a limit: what the report lists as ``envelope_limits_hit``."""
    return [m.to_dict() for m in measures if m.violated or m.at_limit]


def check_settings(settings, roles, style, mono, *, folddown_loss_db: float | None = None,
                   envelope: Envelope | None = None) -> dict[str, Any]:
    """The limits violated, per stem and for the master: ``{"stems": [[dict, ...], ...], "master": [dict, ...]}``."""
    m = settings_measures(settings, roles, style, mono, folddown_loss_db=folddown_loss_db, envelope=envelope)
    return {"stems": [violations(x) for x in m["stems"]], "master": violations(m["master"])}


# ------------------------------------------------------------------------------------------------ fold-down

def folddown_loss_db(audio: np.ndarray, sample_rate: float) -> float:
    """Integrated loudness of a stereo ``(2, samples)`` master minus that of ``(L+R)/2`` on both channels (LU).

    Both BS.1770 integrated (each gated on its own blocks); NaN when either is silent.
    """
    acc_lr, acc_mid = _folddown_meters(sample_rate)
    x = np.asarray(audio, np.float64)
    acc_lr.process(x)
    acc_mid.process(0.5 * (x[0:1] + x[1:2]))
    return _folddown_result(acc_lr, acc_mid)


def folddown_loss_file(path: str, block_frames: int = 1 << 18) -> float:
    """:func:`folddown_loss_db` of a stereo audio file, streamed (NaN for a mono file: nothing to lose)."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        if f.channels != 2:
            return math.nan
        acc_lr, acc_mid = _folddown_meters(f.samplerate)
        for block in f.blocks(blocksize=block_frames, dtype="float64", always_2d=True):
            x = np.ascontiguousarray(block.T)
            acc_lr.process(x)
            acc_mid.process(0.5 * (x[0:1] + x[1:2]))
    return _folddown_result(acc_lr, acc_mid)


def _folddown_meters(sample_rate: float):
    from automix.meters.loudness import LoudnessAccumulator

    # a one-channel accumulator counts its signal as dual mono: exactly (L+R)/2 on both speakers
    return LoudnessAccumulator(sample_rate, 2), LoudnessAccumulator(sample_rate, 1)


def _folddown_result(acc_lr, acc_mid) -> float:
    a, b = acc_lr.result()["integrated_lufs"], acc_mid.result()["integrated_lufs"]
    return float(a - b) if math.isfinite(a) and math.isfinite(b) else math.nan
