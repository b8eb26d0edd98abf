import { describe, expect, it } from 'vitest';
import {
  EQ_BANDS,
  biquadDb,
  dbToY,
  decadeTicks,
  dragBand,
  eqPath,
  eqResponse,
  freqToX,
  highShelfBiquad,
  highpassFirstOrder,
  logFreqs,
  lowShelfBiquad,
  peakingBiquad,
  wheelQ,
  xToFreq,
  yToDb,
} from './eq';

describe('freqToX', () => {
  it('maps the ends of the log axis', () => {
    expect(freqToX(20, 200)).toBeCloseTo(0, 9);
    expect(freqToX(20000, 200)).toBeCloseTo(200, 9);
  });
  it('places 1 kHz at the log ratio', () => {
    expect(freqToX(1000, 300)).toBeCloseTo((300 * Math.log(1000 / 20)) / Math.log(1000), 9);
    expect(freqToX(200, 300)).toBeCloseTo(100, 9); // one decade of three
  });
  it('is NaN for non-positive frequencies', () => {
    expect(freqToX(0, 100)).toBeNaN();
    expect(freqToX(-5, 100)).toBeNaN();
  });
});

describe('dbToY', () => {
  it('maps 0 dB to the middle and ±range to the edges', () => {
    expect(dbToY(0, 60)).toBe(30);
    expect(dbToY(12, 60)).toBe(0);
    expect(dbToY(-12, 60)).toBe(60);
    expect(dbToY(6, 60)).toBe(15);
  });
  it('clamps beyond the range', () => {
    expect(dbToY(40, 60)).toBe(0);
    expect(dbToY(-40, 60)).toBe(60);
    expect(dbToY(8, 60, 6)).toBe(0);
  });
});

describe('eqPath', () => {
  it('builds a move then lines', () => {
    expect(eqPath([20, 200, 20000], [0, 12, -12], 300, 60)).toBe('M0 30 L100 0 L300 60');
  });
  it('breaks the line at nulls and restarts with a move', () => {
    expect(eqPath([20, 200, 2000, 20000], [0, null, 0, 0], 300, 60)).toBe('M0 30 M200 30 L300 30');
  });
  it('skips invalid frequencies and out-of-range points', () => {
    expect(eqPath([0, 10, 20, 200], [1, 1, 0, 0], 300, 60)).toBe('M0 30 L100 30');
    expect(eqPath([20, 200, 40000], [0, 0, 0], 300, 60)).toBe('M0 30 L100 30');
  });
  it('uses the shorter of the two arrays and is empty with no points', () => {
    expect(eqPath([20, 200, 2000], [0], 300, 60)).toBe('M0 30');
    expect(eqPath([], [], 300, 60)).toBe('');
    expect(eqPath([20], [null], 300, 60)).toBe('');
  });
  it('clamps gains into the box', () => {
    expect(eqPath([20], [30], 300, 60)).toBe('M0 0');
  });
});

describe('decadeTicks', () => {
  it('lists the decades inside the axis', () => {
    expect(decadeTicks()).toEqual([100, 1000, 10000]);
    expect(decadeTicks(10, 1000)).toEqual([100, 1000]);
  });
});

describe('xToFreq / yToDb', () => {
  it('invert freqToX and dbToY', () => {
    for (const f of [20, 55, 1000, 12345, 20000]) expect(xToFreq(freqToX(f, 640), 640)).toBeCloseTo(f, 6);
    for (const g of [-12, -3.5, 0, 7, 12]) expect(yToDb(dbToY(g, 240), 240)).toBeCloseTo(g, 9);
    expect(xToFreq(0, 640)).toBe(20);
    expect(yToDb(0, 240)).toBe(12);
    expect(yToDb(300, 240)).toBe(-18); // not clamped
  });
});

const FS = 48000;
describe('RBJ biquads against closed forms', () => {
  it('a peaking filter has its gain at its centre frequency', () => {
    for (const [f, g, q] of [[1000, 6, 1], [250, -9.5, 0.4], [8000, 3, 4], [60, 15, 6]] as const) {
      expect(biquadDb(peakingBiquad(f, g, q, FS), f, FS)).toBeCloseTo(g, 9);
    }
  });
  it('a peaking filter is flat far away and at 0 dB gain', () => {
    expect(biquadDb(peakingBiquad(1000, 6, 2, FS), 20, FS)).toBeCloseTo(0, 1);
    expect(biquadDb(peakingBiquad(1000, 0, 2, FS), 1000, FS)).toBeCloseTo(0, 12);
  });
  it('a low shelf: its gain far below the corner, 0 dB far above, half at the corner', () => {
    const bq = lowShelfBiquad(200, 6, FS);
    expect(biquadDb(bq, 1, FS)).toBeCloseTo(6, 3);
    expect(biquadDb(bq, 20000, FS)).toBeCloseTo(0, 2);
    expect(biquadDb(bq, 200, FS)).toBeCloseTo(3, 6);
    expect(biquadDb(lowShelfBiquad(100, -12, FS), 2, FS)).toBeCloseTo(-12, 2);
  });
  it('a high shelf: 0 dB far below the corner, its gain far above, half at the corner', () => {
    const bq = highShelfBiquad(4000, -8, FS);
    expect(biquadDb(bq, 5, FS)).toBeCloseTo(0, 3);
    expect(biquadDb(bq, 23900, FS)).toBeCloseTo(-8, 2);
    expect(biquadDb(bq, 4000, FS)).toBeCloseTo(-4, 6);
  });
  it('a first-order high-pass: -3 dB at its corner, flat above, 6 dB/oct below', () => {
    const bq = highpassFirstOrder(100, FS);
    expect(biquadDb(bq, 100, FS)).toBeCloseTo(-10 * Math.log10(2), 6);
    expect(biquadDb(bq, 10000, FS)).toBeCloseTo(0, 3);
    expect(biquadDb(bq, 5, FS) - biquadDb(bq, 10, FS)).toBeCloseTo(-6, 1);
  });
  it("the eq plugin's high-pass (two first-order stages): -6 dB at its corner, 12 dB/oct below", () => {
    const flat = { highpass_hz: 100 };
    const [atCorner, far, low1, low2] = eqResponse(flat, [100, 10000, 5, 10], FS);
    expect(atCorner).toBeCloseTo(-20 * Math.log10(2), 2);
    expect(far).toBeCloseTo(0, 3);
    expect(low1! - low2!).toBeCloseTo(-12, 1);
  });
});

describe('eqResponse', () => {
  const flat = { highpass_hz: 10, low_shelf_hz: 120, low_shelf_gain_db: 0, peak1_hz: 250, peak1_gain_db: 0, peak1_q: 1,
    peak2_hz: 1000, peak2_gain_db: 0, peak2_q: 1, peak3_hz: 4000, peak3_gain_db: 0, peak3_q: 1, high_shelf_hz: 8000,
    high_shelf_gain_db: 0 };
  it('sums the bands in dB', () => {
    const f = [1000];
    expect(eqResponse({ ...flat, peak2_gain_db: 5 }, f)[0]).toBeCloseTo(5, 1);
    expect(eqResponse({ peak2_hz: 1000, peak2_gain_db: 5, peak2_q: 1, peak3_hz: 1000, peak3_gain_db: -2, peak3_q: 3 }, f)[0])
      .toBeCloseTo(3, 9);
  });
  it('is flat for a flat EQ (a 10 Hz high-pass is -0.02 dB at 200 Hz) and skips bands with missing parameters', () => {
    expect(eqResponse(flat, [200, 1000, 10000]).every((v) => Math.abs(v) < 0.05)).toBe(true);
    expect(eqResponse({ peak1_hz: 1000, peak1_gain_db: 6 }, [1000])).toEqual([0]); // no Q: no band
    expect(eqResponse({}, [20, 20000])).toEqual([0, 0]);
  });
  it('clamps frequencies to just below Nyquist', () => {
    const [v] = eqResponse({ high_shelf_hz: 8000, high_shelf_gain_db: 6 }, [30000], 44100);
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeCloseTo(6, 1);
  });
  it('logFreqs spans the axis', () => {
    const f = logFreqs(5);
    expect(f[0]).toBe(20);
    expect(f[4]).toBeCloseTo(20000, 6);
    expect(f[2]).toBeCloseTo(Math.sqrt(20 * 20000), 6);
  });
});

describe('dragBand', () => {
  const peak = EQ_BANDS.find((b) => b.band === 'peak1')!;
  const hp = EQ_BANDS.find((b) => b.band === 'highpass')!;
  const box = { width: 600, height: 240 };
  const ranges = { hz: { min: 40, max: 16000 }, gain: { min: -15, max: 15 }, q: { min: 0.3, max: 6 } };
  it('lists the six handles of the eq plugin', () => {
    expect(EQ_BANDS.map((b) => b.band)).toEqual(['highpass', 'low_shelf', 'peak1', 'peak2', 'peak3', 'high_shelf']);
  });
  it('moves frequency on the log axis and gain in dB', () => {
    const v = dragBand({ hz: 200, gain: 0, q: 1 }, peak, 200, -60, false, box, ranges); // one decade right, 3 dB up
    expect(v.hz).toBeCloseTo(2000, 6);
    expect(v.gain).toBeCloseTo(6, 9);
    expect(v.q).toBe(1);
  });
  it('clamps to the spec and the axis', () => {
    const v = dragBand({ hz: 1000, gain: 10, q: 1 }, peak, -2000, -1000, false, box, ranges);
    expect(v).toEqual({ hz: 40, gain: 15, q: 1 });
    expect(dragBand({ hz: 1000, gain: 0, q: 1 }, peak, 5000, 0, false, box, {}).hz).toBeCloseTo(20000, 6);
  });
  it('shift: Q only (up = narrower)', () => {
    const v = dragBand({ hz: 1000, gain: 3, q: 1 }, peak, 50, -60, true, box, ranges);
    expect(v).toEqual({ hz: 1000, gain: 3, q: 2 });
    expect(dragBand({ hz: 1000, gain: 3, q: 1 }, peak, 0, 600, true, box, ranges).q).toBe(0.3);
  });
  it('the high-pass moves in frequency only', () => {
    const v = dragBand({ hz: 100, gain: null, q: null }, hp, 200, -80, true, box, { hz: { min: 10, max: 1000 } });
    expect(v.hz).toBeCloseTo(1000, 6);
    expect(v.gain).toBeNull();
    expect(v.q).toBeNull();
  });
  it('wheelQ', () => {
    expect(wheelQ(1, -500)).toBe(2);
    expect(wheelQ(1, 500)).toBe(0.5);
    expect(wheelQ(5, -1000, { min: 0.3, max: 6 })).toBe(6);
  });
});
