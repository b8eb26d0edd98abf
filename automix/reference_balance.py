"""Balancing the stems toward a reference track's long-term spectrum.

An engineer mixing toward a reference moves faders before reaching for the master EQ: when the reference
has more low mids than the mix, the bass comes up a little, not a bell on the whole mix. The master EQ's
few sections (two shelves and a bell inside the envelope) reach a tilt and one bump; the rest of a spectrum's
shape is the balance of the parts, so the faders are where it is moved.

Each stem is rendered to its fader once anyway (:class:`~automix.strip_cache.StripCache`); from those strips,
through the stages after the fader (fader, pan, width), :func:`stem_octave_powers` takes each stem's share of
the mix's mid signal as power per octave band (the same Welch spectrum and bands as
:func:`automix.reference.octave_levels_db`). The parts of a mix are nearly uncorrelated, so the bus's power
per octave is the sum of the stems', and a fader move of ``d`` dB scales a stem's powers by ``10^(d/10)``:
:func:`balance_moves` searches the moves (one per role: the stems sharing a role move together, as the style's
role balance places them) that bring that sum closest to the reference in what the master EQ
leaves to the faders: the difference of the two spectra less its best straight line over the octaves
(:func:`bumps_db`; the level is loudness matching's and the tilt the shelves'), at a cost per dB of move so
small gains are not bought with big moves, each within :data:`MAX_MOVE_DB` (:data:`LEAD_MAX_MOVE_DB` for a
vocal) and inside the envelope's stem level range. The master
EQ's tone match then works from the balanced bus.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from automix.envelope import stem_level_db
from automix.settings import GAIN_DECIMALS, MixSettings

#: the largest fader move (dB) toward a reference's balance: a nudge of the balance, not a new one
MAX_MOVE_DB = 3.0
#: a vocal's largest move: the voice's level against the band is set by the song, not by a reference's spectrum
LEAD_MAX_MOVE_DB = 1.5
#: cost per dB^2 of fader move, in units of the squared shape distance (dB^2 RMS over octaves)
MOVE_COST = 0.01
#: a smaller fader move (dB) is not made: nobody hears it, and a settings file full of 0.01 dB nudges reads as noise
MIN_MOVE_DB = 0.05
#: the least improvement (dB of :func:`bumps_db`) worth moving faders for
MIN_GAIN_DB = 0.05


def stem_octave_powers(strips, settings: MixSettings) -> np.ndarray:
    """``(stems, octaves)`` power per octave band (:data:`automix.reference.OCTAVES_HZ`) of each stem's share of
    the mix's mid signal, at its current fader, pan and width: the strip kept by ``strips`` (a
    :class:`~automix.strip_cache.StripCache`, which renders any strip missing) through its stages after the
    fader, over the session's length."""
    from automix.reference import OctaveSpectrum

    return np.array(strips.map_post_fader(settings, lambda: OctaveSpectrum(strips.sample_rate)))


def _line_remover(n: int) -> np.ndarray:
    """``(n, n)``: takes a difference over ``n`` octaves to what is left of it less its best straight line."""
    line = np.array([np.ones(n), np.arange(n) - (n - 1) / 2]).T
    return np.eye(n) - line @ np.linalg.pinv(line)


def bumps_db(powers: np.ndarray, reference_db: np.ndarray) -> float:
    """RMS over octaves (dB) of the difference between an octave spectrum (``powers``, linear) and the reference's
    (``reference_db``) less its best straight line: what is left after loudness matching and a tilt, both of
    which the master EQ's shelves reach."""
    diff = 10.0 * np.log10(np.maximum(powers, 1e-30)) - reference_db
    return float(np.sqrt(np.mean((_line_remover(diff.size) @ diff) ** 2)))


def balance_moves(powers: np.ndarray, reference_db: np.ndarray, bounds: Sequence[tuple[float, float]]
                  ) -> np.ndarray:
    """Fader moves (dB, one per stem) that bring the :func:`bumps_db` of ``sum_i 10^(d_i/10) powers_i`` against
    ``reference_db`` down, each within its ``bounds`` (dB), at :data:`MOVE_COST` per dB^2: the faders work on the
    spectrum's bumps, and the level and tilt are left to the master EQ (a fader is a poor tilt). A stem with no
    power stays put, a move under :data:`MIN_MOVE_DB` is not made, and moves that take less than
    :data:`MIN_GAIN_DB` off are not made at all (all zeros)."""
    from scipy.optimize import minimize

    powers = np.asarray(powers, dtype=np.float64)
    live = powers.sum(axis=1) > 0
    n_oct = powers.shape[1]
    remover = _line_remover(n_oct)

    def cost(d):
        w = np.where(live, 10.0 ** (d / 10.0), 0.0)
        total = np.maximum(w @ powers, 1e-30)
        left = remover @ (10.0 * np.log10(total) - reference_db)
        value = float(np.mean(left ** 2)) + MOVE_COST * float(np.sum(d ** 2))
        # an octave's level moves by the stem's share of its power, dB per dB of fader (the remover is symmetric)
        share = w[:, None] * powers / total[None, :]
        return value, np.where(live, 2.0 / n_oct * (share @ left) + 2.0 * MOVE_COST * d, 0.0)

    best = minimize(cost, np.zeros(len(powers)), jac=True, method="L-BFGS-B", bounds=list(bounds),
                    options={"ftol": 1e-12, "gtol": 1e-9, "maxiter": 500})
    written = _written(best.x, bounds)
    moves = np.where(live & (np.abs(written) >= MIN_MOVE_DB), written, 0.0)
    gained = bumps_db(powers.sum(axis=0), reference_db) - bumps_db((10.0 ** (moves / 10.0)) @ powers, reference_db)
    return moves if gained >= MIN_GAIN_DB else np.zeros(len(powers))


def _written(moves, bounds: Sequence[tuple[float, float]]) -> np.ndarray:
    """``moves`` (dB) at the settings file's resolution, never past their ``bounds``: a move at its bound rounds
    toward the inside (0.1897 dB of room is 0.18, not 0.19), so a stem at the edge of the envelope's level range
    stays inside it."""
    step = 10.0 ** -GAIN_DECIMALS
    lo = np.array([math.ceil(round(b[0] / step, 6)) * step for b in bounds])
    hi = np.array([math.floor(round(b[1] / step, 6)) * step for b in bounds])
    return np.round(np.clip(np.round(np.asarray(moves, dtype=np.float64), GAIN_DECIMALS), lo, hi), GAIN_DECIMALS)


def move_bounds(settings: MixSettings, roles: Sequence[str], role_levels_db: Sequence[float], level_range_db: float
                ) -> list[tuple[float, float]]:
    """Each stem's room (dB) for a balance move: :data:`MAX_MOVE_DB` either way (:data:`LEAD_MAX_MOVE_DB` for a
    vocal), narrowed so the strip's level moves stay within ``level_range_db`` of its role level (the envelope's
    stem level range)."""
    out = []
    for stem, role, level in zip(settings.stems, roles, role_levels_db):
        params = {p.plugin: p.params for p in stem.chain}
        if "gain" not in params:
            out.append((0.0, 0.0))
            continue
        most = LEAD_MAX_MOVE_DB if role == "vocal" else MAX_MOVE_DB
        now = stem_level_db(params) - level
        out.append((max(-most, -level_range_db - now), min(most, level_range_db - now)))
    return [(min(lo, 0.0), max(hi, 0.0)) for lo, hi in out]


def _by_role(roles: Sequence[str], bounds: Sequence[tuple[float, float]]) -> tuple[np.ndarray, list]:
    """One move per role: the stems sharing it (a pair of overheads, doubled guitars) move together, so a balance
    move never shifts a pair's image. Returns ``(membership (roles, stems) 0/1, each role's bounds)``, a role's
    bounds being the room every member has."""
    parts = list(dict.fromkeys(roles))
    member = np.array([[role == part for role in roles] for part in parts], dtype=np.float64)
    return member, [(max(lo for (lo, _), m in zip(bounds, row) if m), min(hi for (_, hi), m in zip(bounds, row) if m))
                    for row in member]


def apply_moves(settings: MixSettings, moves: Sequence[float]) -> None:
    """Add ``moves`` (dB) to the stems' faders, in place, rounded as the settings file writes them."""
    for stem, move in zip(settings.stems, moves):
        if move:
            fader = next(p for p in stem.chain if p.plugin == "gain")
            fader.params["gain_db"] = round(float(fader.params["gain_db"]) + float(move), GAIN_DECIMALS)


def balance_toward(strips, settings: MixSettings, roles: Sequence[str], style, reference_db: Sequence[float]
                   ) -> dict:
    """Move the faders (in place) toward ``reference_db``'s spectral balance (:func:`balance_moves`, one move per
    role); returns
    the report's record: each stem's move (dB) and the bus's :func:`bumps_db` before and after (predicted from
    the strips' powers)."""
    from automix.levels import role_levels

    reference_db = np.asarray(reference_db, dtype=np.float64)
    powers = stem_octave_powers(strips, settings)
    bounds = move_bounds(settings, roles, role_levels(style, roles), style.envelope.stem_level_range_db)
    member, part_bounds = _by_role(roles, bounds)
    moves = member.T @ balance_moves(member @ powers, reference_db, part_bounds)
    apply_moves(settings, moves)
    return {"moves_db": {str(s.path): round(float(m), GAIN_DECIMALS) for s, m in zip(settings.stems, moves)},
            "bumps_before_db": round(bumps_db(powers.sum(axis=0), reference_db), 3),
            "bumps_predicted_db": round(bumps_db((10.0 ** (moves / 10.0)) @ powers, reference_db), 3),
            "max_move_db": MAX_MOVE_DB}


def reapply(settings: MixSettings, record: dict, roles: Sequence[str], style) -> None:
    """Make ``record``'s moves again (in place) after the level match has reset the faders (the stems' shelves
    moved), each role's move held inside the envelope's stem level range as it stands now."""
    from automix.levels import role_levels

    member, part_bounds = _by_role(roles, move_bounds(settings, roles, role_levels(style, roles),
                                                      style.envelope.stem_level_range_db))
    wanted = [record["moves_db"][str(s.path)] for s in settings.stems]
    moves = _written([next(m for m, inside in zip(wanted, row) if inside) for row in member], part_bounds)
    apply_moves(settings, member.T @ moves)
