"""Denormals flushed to zero while the production chain runs, as a DAW's audio thread does.

An IIR filter fed silence decays into the denormal range (below 1.2e-38 in float32), and float32
recursions can then sit there for good; the CPU computes every such sample on a slow path, 10 to 100
times slower. pedalboard does not guard against this (JUCE's own hosts wrap every ``processBlock`` in
``ScopedNoDenormals``; pedalboard's ``process`` does not), so a stem with long silences cost 5 s of EQ
instead of 0.3 s on our bench session. :func:`flushed` sets the SSE control register's flush-to-zero
(FTZ) and denormals-are-zero (DAZ) bits for the calling thread around a block and restores them after,
so nothing outside the render (numpy in the caller, other threads) sees a changed floating-point mode.

The difference to the output is below 1.2e-38 per sample (about -758 dBFS): far under any meter or
word length, and every thread count computes the same thing. The control register is per thread and
x86-specific: elsewhere :func:`flushed` does nothing (the render is then correct but slower on silence).
The two register accesses are LLVM intrinsics compiled by numba, the project's kernel compiler.
"""
from __future__ import annotations

import platform
from contextlib import contextmanager

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

#: MXCSR bits: flush-to-zero (bit 15) and denormals-are-zero (bit 6)
FTZ_DAZ = 0x8040

SUPPORTED = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686")


def _csr_call(builder, name, slot):
    ptr = ir.PointerType(ir.IntType(8))
    fn = builder.module.declare_intrinsic(name, fnty=ir.FunctionType(ir.VoidType(), [ptr]))
    builder.call(fn, [builder.bitcast(slot, ptr)])


@intrinsic
def _stmxcsr(typingctx):
    def codegen(context, builder, signature, args):
        slot = builder.alloca(ir.IntType(32))
        _csr_call(builder, "llvm.x86.sse.stmxcsr", slot)
        return builder.load(slot)
    return types.uint32(), codegen


@intrinsic
def _ldmxcsr(typingctx, value):
    def codegen(context, builder, signature, args):
        slot = builder.alloca(ir.IntType(32))
        builder.store(args[0], slot)
        _csr_call(builder, "llvm.x86.sse.ldmxcsr", slot)
        return context.get_dummy_value()
    return types.void(types.uint32), codegen


@numba.njit(nogil=True, cache=True)
def _get():
    return _stmxcsr()


@numba.njit(nogil=True, cache=True)
def _set(value):
    _ldmxcsr(value)


def mode() -> int:
    """The calling thread's MXCSR (0 where unsupported)."""
    if not SUPPORTED:
        return 0
    return int(_get())


@contextmanager
def flushed():
    """Within the block, the calling thread flushes denormal results and inputs to zero."""
    if not SUPPORTED:
        yield
        return
    old = _get()
    _set(old | FTZ_DAZ)
    try:
        yield
    finally:
        _set(old)
