"""Stem roles: what each stem is, from its file name, with a feature-based fallback.

Roles drive the balance priors of a style (how loud vocals sit against drums,
where guitars are panned). Names are matched case-insensitively on word-ish
tokens (``Lead Vox 2.wav``, ``kick_in.flac``, ``OH_L.aif``). A name with no
match (``Audio 01.wav``) is classified from its audio features by a small
learned model (:mod:`automix.role_model`).
"""
from __future__ import annotations

import re
from pathlib import Path

#: ``drums`` is a whole-kit stem; ``kick``/``snare``/``overheads`` are its parts in multitrack sessions.
ROLES = ("vocal", "drums", "kick", "snare", "overheads", "bass", "guitar", "keys", "pads", "other")

#: ordered: the first role whose pattern matches wins (kick before drums, bass before guitar...)
_PATTERNS: tuple[tuple[str, str], ...] = (
    ("kick", r"kick|kik|bd|bassdrum|bass_drum|bass drum"),
    ("snare", r"snare|snr|sd|rim|clap"),
    ("overheads", r"oh|overhead|overheads|room|hats?|hihat|hi-hat|hh|cymbals?|ride|crash"),
    ("drums", r"drums?|kit|loop|beat|breaks?"),
    # hand percussion and toms sit well under the kit: a shaker at kit level buries the groove
    ("other", r"perc|percussion|toms?|shaker|tamb\w*|bongos?|congas?|cowbell|clave|guiro|cabasa|triangle"),
    ("vocal", r"vocals?|vox|voice|lead ?vox|bvs?|backing|choir|sing\w*|harmony|adlib|lyric"),
    ("bass", r"bass|sub|808|bassline|db|upright"),
    ("guitar", r"gtr|guitars?|git|ac ?gtr|acoustic|electric|strat|tele|les ?paul|riff|banjo|mandolin|dobro"),
    ("keys", r"keys?|piano|pno|rhodes|wurli|organ|synth|lead|arp|pluck|ep|clav|bell|chords?"),
    ("pads", r"pads?|strings?|str|violin|viola|cello|atmos|ambient|texture|choir ?pad|swell|brass|horns?"),
)
_COMPILED = tuple((role, re.compile(rf"(?:^|[^a-z])(?:{pat})(?:$|[^a-z])")) for role, pat in _PATTERNS)


def role_from_name(path: str) -> str | None:
    """Role guessed from the file name, or None when nothing matches."""
    name = Path(path).stem.lower().replace("-", " ").replace(".", " ")
    if "808" in name:  # in modern productions an "808" stem is the sub bass
        return "bass"
    name = re.sub(r"\d+", " ", name)
    for role, pattern in _COMPILED:
        if pattern.search(name.replace("_", " ")):
            return role
    return None


def role_from_features(features: dict) -> str:
    """Role from level-invariant features (see :mod:`automix.features`), by the shipped role model.

    ``features`` is :attr:`StemFeatures.values <automix.features.StemFeatures.values>`; the most probable
    role of :mod:`automix.role_model` wins.
    """
    from automix.features import StemFeatures
    from automix.role_model import shipped_model

    return shipped_model().role(StemFeatures("", 0.0, features).vector())


def infer_role(path: str, features: dict | None = None) -> tuple[str, str]:
    """(role, source) where source is ``name``, ``features`` or ``default``."""
    role = role_from_name(path)
    if role is not None:
        return role, "name"
    if features is not None:
        return role_from_features(features), "features"
    return "other", "default"
