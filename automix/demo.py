"""``automix demo``: a synthetic multitrack session, auto-mixed and mastered, with what was measured."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from automix import sessiongen

#: a generated rock band: kick, snare, overheads L/R, guitars L/R, synth bass, lead vocal
DEMO_SEED = sessiongen.HELD_OUT_SEED_BASE + 107


def run_demo(folder: str, *, style: str = "rock_punk", n_stems: int = 8, duration_s: float = 12.0) -> Iterator[str]:
    """Write stems to ``folder/stems``, auto-mix them to ``folder/mix.wav``; yield report lines."""
    from automix.session import mix_command

    root = Path(folder)
    session = sessiongen.generate(DEMO_SEED, duration_s=duration_s, n_stems=n_stems, sample_rate=44100)
    stems = [p for p in sessiongen.write(session, root / "stems") if p.suffix == ".wav"]
    yield (f"wrote {len(stems)} synthetic stems ({duration_s:g} s, 44.1 kHz, levels scrambled by up to +-12 dB) "
           f"to {root / 'stems'}")
    report, lines = mix_command([str(p) for p in stems], style=style, targets=None, output=str(root / "mix.wav"),
                                engine="pedalboard", optimize_steps=0, test_stems=None, threads=1, verbose=True)
    yield from lines
    yield f"listen: {root / 'mix.wav'}   re-render: automix render --settings {root / 'mix.settings.json'} --output again.wav"
    yield f"look: open {root / 'mix.report.html'} in a browser, or serve it: automix ui {root}"
