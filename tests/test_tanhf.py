"""The vectorised tanhf against the C library's, bit for bit, and the saturation on either."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest

from automix.kernels import denormals
from automix.kernels.tanhf import _libm, _port, port_matches_libm

glibc = pytest.mark.skipif(not port_matches_libm(), reason="this C library's tanhf is not fdlibm's")


@numba.njit(nogil=True)
def _mismatches(lo, hi, step):
    """Bit patterns ``lo, lo + step, ... < hi`` where the port and the library differ (NaN = NaN)."""
    x = np.arange(lo, hi, step).astype(np.uint32).view(np.float32)
    ours, theirs = np.empty_like(x), np.empty_like(x)
    _port(x, ours)
    _libm(x, theirs)
    bad = 0
    for i in range(x.size):
        if ours[i] != theirs[i] and not (ours[i] != ours[i] and theirs[i] != theirs[i]):
            bad += 1
    return bad


def _sweep(step: int, flushed: bool) -> int:
    chunk = 1 << 26

    def part(lo):
        if flushed:
            with denormals.flushed():
                return _mismatches(lo, min(lo + chunk, 1 << 32), step)
        return _mismatches(lo, min(lo + chunk, 1 << 32), step)

    with ThreadPoolExecutor(2) as pool:
        return sum(pool.map(part, range(0, 1 << 32, chunk)))


@glibc
@pytest.mark.parametrize("flushed", [False, True])
def test_the_port_is_the_librarys_tanhf_across_every_exponent(flushed):
    """Every 61st float32 bit pattern (70 million inputs: every exponent and sign, denormals, infinities, NaNs),
    with and without denormals flushed to zero as the engine runs."""
    assert _sweep(61, flushed) == 0


@glibc
@pytest.mark.skipif(not os.environ.get("AUTOMIX_EXHAUSTIVE"), reason="all 2**32 inputs: AUTOMIX_EXHAUSTIVE=1")
@pytest.mark.parametrize("flushed", [False, True])
def test_the_port_is_the_librarys_tanhf_on_every_input(flushed):
    assert _sweep(1, flushed) == 0


def test_the_port_is_tanh():
    """What the bits stand for, without the library: within 2 ulp of the float64 tanh, odd, and 1 from 22 on."""
    x = np.concatenate([np.linspace(-30, 30, 200001, dtype=np.float32), np.float32(2.0) ** -np.arange(1, 140,
                                                                                                 dtype=np.float32)])
    y = np.empty_like(x)
    _port(x, y)
    exact = np.tanh(x.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.all(np.abs(y - exact) <= 2 * ulp)
    minus = np.empty_like(x)
    _port(-x, minus)
    assert np.array_equal(minus, -y)
    assert np.all(y[x >= 22] == 1.0)
