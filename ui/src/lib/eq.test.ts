import { describe, expect, it } from 'vitest';
import { dbToY, decadeTicks, eqPath, freqToX } from './eq';

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
