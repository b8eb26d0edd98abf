"""The strip cache: each strip rendered to its fader once, and the same numbers as rendering it whole."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from automix.audio_io import BLOCK_FRAMES
from automix.engines.pedalboard_engine import render_stream, strip_loudness
from automix.settings import STEM_CHAIN, MixSettings, StemSettings, neutral_chain
from automix.strip_cache import StripCache
from tests.conftest import music_like

SR = 44100


def _chain(threshold_db: float, fader_db: float, pan: float, shelf_db: float = 0.0):
    chain = neutral_chain(STEM_CHAIN)
    moves = {"compressor": {"threshold_db": threshold_db, "ratio": 4.0}, "gain": {"gain_db": fader_db},
             "pan": {"pan": pan}, "eq": {"high_shelf_gain_db": shelf_db, "highpass_hz": 40.0}}
    for p in chain:
        p.params.update(moves.get(p.plugin, {}))
    return chain


@pytest.fixture
def settings(tmp_path):
    stems = []
    # stereo, mono, and a shorter stem (padded with silence), across more than one block
    for k, (channels, seconds) in enumerate([(2, 4.0), (1, 4.0), (2, 2.5)]):
        p = tmp_path / f"stem{k}.wav"
        sf.write(str(p), (0.3 * music_like(int(seconds * SR), SR, channels, seed=k)).T, SR, subtype="FLOAT")
        stems.append(StemSettings(str(p), _chain(-24.0 - 3 * k, -2.0 + k, (-0.5, 0.0, 0.4)[k]), 1.5 - k))
    assert 4 * SR > BLOCK_FRAMES
    return MixSettings(SR, stems, [])


def _bus(settings: MixSettings, cache: StripCache | None = None) -> np.ndarray:
    parts: list[np.ndarray] = []
    if cache is None:
        render_stream(settings, parts.append)
    else:
        cache.render_bus(settings, parts.append)
    return np.concatenate(parts, axis=1)


def test_loudness_and_bus_are_bit_identical_to_rendering_each_strip_whole(settings, tmp_path):
    cache = StripCache(tmp_path, SR, 4 * SR, threads=2)
    try:
        assert cache.loudness(settings) == strip_loudness(settings)
        # the faders move after the strips were cached: the bus follows without a new render
        for k, stem in enumerate(settings.stems):
            next(p for p in stem.chain if p.plugin == "gain").params["gain_db"] += 1.25 * (k + 1)
        got = _bus(settings, cache)
        want = _bus(settings)
        assert got.shape == want.shape == (2, 4 * SR)
        assert np.array_equal(got, want)
    finally:
        cache.remove()
    assert not list(tmp_path.glob(".automix-strip*"))


def test_a_changed_pre_fader_chain_is_rendered_again_and_the_others_are_read_back(settings, tmp_path):
    cache = StripCache(tmp_path, SR, 4 * SR)
    try:
        cache.loudness(settings)
        files = {k: s.path.stat().st_mtime_ns for k, s in cache._strips.items()}
        next(p for p in settings.stems[1].chain if p.plugin == "eq").params["high_shelf_gain_db"] = -2.0
        assert np.array_equal(_bus(settings, cache), _bus(settings))
        now = {k: s.path.stat().st_mtime_ns for k, s in cache._strips.items()}
        assert now[0] == files[0] and now[2] == files[2] and now[1] != files[1]
        # metered again: the held strips read back (the shorter one over its own length), the changed one rendered
        next(p for p in settings.stems[1].chain if p.plugin == "eq").params["high_shelf_gain_db"] = -3.0
        assert cache.loudness(settings) == strip_loudness(settings)
    finally:
        cache.remove()


def test_a_chain_emitting_uneven_blocks_is_regrouped_into_whole_file_blocks():
    """A plugin with latency emits fewer frames at first and the rest at the flush; the file still holds
    blocks of exactly BLOCK_FRAMES (the last one shorter), in order."""
    from automix.strip_cache import _Held

    rng = np.random.default_rng(0)
    total = 3 * BLOCK_FRAMES + 1234
    signal = rng.standard_normal((2, total)).astype(np.float32)
    cuts = np.sort(rng.choice(np.arange(1, total), size=9, replace=False))
    chunks = np.split(signal, cuts, axis=1) + [signal[:, :0]]  # an empty call, as a chain's first may be
    held, out = _Held(), []
    for i, chunk in enumerate(chunks):
        out += held.push(chunk, final=i == len(chunks) - 1)
    assert [b.shape[1] for b in out] == [BLOCK_FRAMES] * 3 + [1234]
    assert np.array_equal(np.concatenate(out, axis=1), signal)
