import { describe, expect, it } from 'vitest';
import { loudnessData, spectrumData } from './charts';
import { parsePage, parseReport, parseViews, type SessionPage } from './page';
import { loadFixture } from './fixtures';

describe('loudnessData', () => {
  it('aligns readings at the end of their windows on one grid', () => {
    const views = parseViews({ loudness: { master: { step_s: 0.1, momentary_lufs: [-10, -11], short_term_lufs: [-12] } } });
    const d = loudnessData(views, null)!;
    expect(d.x).toHaveLength(31);
    expect(d.x[4]).toBe(0.4);
    expect(d.master_momentary[4]).toBe(-10);
    expect(d.master_momentary[5]).toBe(-11);
    expect(d.master_momentary[0]).toBeNull();
    expect(d.master_short_term[30]).toBe(-12);
    expect(d.pre_short_term.every((v) => v === null)).toBe(true);
  });
  it('clamps the bottom at target - 30', () => {
    const p = parsePage(loadFixture('session')) as SessionPage;
    const d = loudnessData(p.views, p.report)!;
    expect(d.yMin).toBe(-40);
    expect(d.yMax).toBeGreaterThan(-5.7);
    expect(d.target).toBe(-9.5);
    expect(d.integrated).toBe(-9.5198);
    expect(d.x[d.x.length - 1]).toBeCloseTo(12, 6);
  });
  it('is null without curves', () => {
    expect(loudnessData(null, null)).toBeNull();
    expect(loudnessData(parseViews({}), parseReport({}))).toBeNull();
  });
});

describe('spectrumData', () => {
  it('gives percent per band over sorted centres', () => {
    const d = spectrumData(parseViews({ spectrum: { centres_hz: [1000, 100], master: [0.5, 0.25], pre_master: [null, 0.1] } }))!;
    expect(d.x).toEqual([100, 1000]);
    expect(d.master).toEqual([25, 50]);
    expect(d.pre_master).toEqual([10, null]);
    expect(d.yMax).toBeGreaterThanOrEqual(50);
  });
  it('is null without a spectrum', () => {
    expect(spectrumData(null)).toBeNull();
    expect(spectrumData(parseViews({ spectrum: { centres_hz: [] } }))).toBeNull();
  });
});
