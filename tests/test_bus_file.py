"""The in-memory bus refills an array it is given, and gives the same blocks as one it allocates."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automix.audio_io import BLOCK_FRAMES
from automix.engines.pedalboard_engine import render_postfader
from automix.master_render import BusFile
from automix.settings import PluginSettings


def _blocks(n: int, seed: int = 0) -> list[np.ndarray]:
    x = np.random.default_rng(seed).standard_normal((2, n)).astype(np.float32)
    return [x[:, s:s + BLOCK_FRAMES] for s in range(0, n, BLOCK_FRAMES)]


@pytest.mark.parametrize("spare_frames", [3 * BLOCK_FRAMES + 100, 5 * BLOCK_FRAMES, BLOCK_FRAMES])
def test_a_spare_array_is_refilled_and_the_bus_is_the_same(tmp_path, spare_frames):
    blocks = _blocks(3 * BLOCK_FRAMES + 100)
    fresh = BusFile(Path(tmp_path), 44100, memory=True)
    with fresh.writer() as write:
        for b in blocks:
            write(b)
    spare = np.full((2, spare_frames), 7.0, np.float32)
    reused = BusFile(Path(tmp_path), 44100, memory=True)
    reused.spare = spare
    with reused.writer() as write:
        for b in blocks:
            write(b)
    got = np.concatenate(list(reused.blocks()), axis=1)
    assert np.array_equal(got, np.concatenate(list(fresh.blocks()), axis=1))
    # refilled in place when it is long enough; a short spare falls back to new memory for the rest
    assert np.shares_memory(reused.release(), spare) == (spare_frames >= got.shape[1])
    assert reused.spare is None  # used once


def test_render_postfader_writes_into_a_given_array():
    pre = np.random.default_rng(1).standard_normal((1, 3 * BLOCK_FRAMES)).astype(np.float32)
    chain = [PluginSettings("gain", {"gain_db": -3.0}), PluginSettings("pan", {"pan": 0.3}),
             PluginSettings("stereo_width", {"width": 1.0})]
    want = render_postfader(chain, 44100, pre)
    out = np.zeros((2, pre.shape[1]), np.float32)
    got = render_postfader(chain, 44100, pre, out=out)
    assert got is out and np.array_equal(got, want)
    assert render_postfader(chain, 44100, pre, out=np.zeros((2, 10), np.float32)).shape == want.shape
