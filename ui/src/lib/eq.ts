/** Mapping math of the mini EQ curves (SVG over log frequency), unit-tested in eq.test.ts. */

export const EQ_F_MIN = 20;
export const EQ_F_MAX = 20000;
export const EQ_DB_RANGE = 12;

/** x of a frequency on a log axis: fMin -> 0, fMax -> width (not clamped; NaN for f <= 0). */
export function freqToX(f: number, width: number, fMin = EQ_F_MIN, fMax = EQ_F_MAX): number {
  if (!(f > 0)) return Number.NaN;
  return (width * Math.log(f / fMin)) / Math.log(fMax / fMin);
}

/** y of a gain: +range -> 0 (top), 0 dB -> height/2, -range -> height; clamped to [0, height]. */
export function dbToY(db: number, height: number, range = EQ_DB_RANGE): number {
  const c = Math.max(-range, Math.min(range, db));
  return height / 2 - (c / range) * (height / 2);
}

function n1(v: number): string {
  const r = Math.round(v * 10) / 10;
  return (r === 0 ? 0 : r).toString();
}

/** SVG path "M x y L x y ..." of a curve; a missing point (null, non-finite gain or frequency) breaks the line,
 * points outside [fMin, fMax] are dropped. Empty string when nothing can be drawn. */
export function eqPath(
  freqs: readonly (number | null)[],
  db: readonly (number | null)[],
  width: number,
  height: number,
  range = EQ_DB_RANGE,
  fMin = EQ_F_MIN,
  fMax = EQ_F_MAX,
): string {
  const parts: string[] = [];
  let pen = false;
  const n = Math.min(freqs.length, db.length);
  for (let i = 0; i < n; i++) {
    const f = freqs[i];
    const g = db[i];
    if (typeof f !== 'number' || typeof g !== 'number' || !Number.isFinite(f) || !Number.isFinite(g) || f <= 0) {
      pen = false;
      continue;
    }
    if (f < fMin * 0.999 || f > fMax * 1.001) {
      pen = false;
      continue;
    }
    const x = freqToX(f, width, fMin, fMax);
    const y = dbToY(g, height, range);
    parts.push(`${pen ? 'L' : 'M'}${n1(x)} ${n1(y)}`);
    pen = true;
  }
  return parts.join(' ');
}

/** Decade grid lines inside [fMin, fMax]: 100, 1000, 10000 for the default range. */
export function decadeTicks(fMin = EQ_F_MIN, fMax = EQ_F_MAX): number[] {
  const out: number[] = [];
  for (let d = Math.ceil(Math.log10(fMin)); 10 ** d <= fMax; d++) {
    if (10 ** d > fMin) out.push(10 ** d);
  }
  return out;
}

/** The frequency at x on the log axis (inverse of freqToX). */
export function xToFreq(x: number, width: number, fMin = EQ_F_MIN, fMax = EQ_F_MAX): number {
  return fMin * (fMax / fMin) ** (x / width);
}

/** The gain at y (inverse of dbToY, not clamped): 0 -> +range, height/2 -> 0 dB, height -> -range. */
export function yToDb(y: number, height: number, range = EQ_DB_RANGE): number {
  return ((height / 2 - y) / (height / 2)) * range;
}

// ---------------------------------------------------------------- RBJ cookbook biquads (the drag preview)
/** A biquad's coefficients `[b0, b1, b2, a0, a1, a2]` (not normalised). */
export type Biquad = readonly [number, number, number, number, number, number];

export const SHELF_Q = Math.SQRT1_2; // S = 1

const w0Of = (f: number, fs: number): number => (2 * Math.PI * Math.min(f, 0.999 * (fs / 2))) / fs;

/** Peaking EQ: `gainDb` at `f0`, bandwidth from `q`. */
export function peakingBiquad(f0: number, gainDb: number, q: number, fs: number): Biquad {
  const a = 10 ** (gainDb / 40);
  const w = w0Of(f0, fs);
  const alpha = Math.sin(w) / (2 * q);
  const c = Math.cos(w);
  return [1 + alpha * a, -2 * c, 1 - alpha * a, 1 + alpha / a, -2 * c, 1 - alpha / a];
}

/** Low shelf (S = 1): `gainDb` far below `f0`, 0 dB far above, half the gain at `f0`. */
export function lowShelfBiquad(f0: number, gainDb: number, fs: number): Biquad {
  const a = 10 ** (gainDb / 40);
  const w = w0Of(f0, fs);
  const c = Math.cos(w);
  const k = 2 * Math.sqrt(a) * (Math.sin(w) / (2 * SHELF_Q));
  return [
    a * (a + 1 - (a - 1) * c + k),
    2 * a * (a - 1 - (a + 1) * c),
    a * (a + 1 - (a - 1) * c - k),
    a + 1 + (a - 1) * c + k,
    -2 * (a - 1 + (a + 1) * c),
    a + 1 + (a - 1) * c - k,
  ];
}

/** High shelf (S = 1): 0 dB far below `f0`, `gainDb` far above, half the gain at `f0`. */
export function highShelfBiquad(f0: number, gainDb: number, fs: number): Biquad {
  const a = 10 ** (gainDb / 40);
  const w = w0Of(f0, fs);
  const c = Math.cos(w);
  const k = 2 * Math.sqrt(a) * (Math.sin(w) / (2 * SHELF_Q));
  return [
    a * (a + 1 + (a - 1) * c + k),
    -2 * a * (a - 1 + (a + 1) * c),
    a * (a + 1 + (a - 1) * c - k),
    a + 1 - (a - 1) * c + k,
    2 * (a - 1 - (a + 1) * c),
    a + 1 - (a - 1) * c - k,
  ];
}

/** First-order high-pass (bilinear, pre-warped: JUCE's first-order design, which the eq plugin runs twice):
 * -3 dB at `f0`, 6 dB/oct below. */
export function highpassFirstOrder(f0: number, fs: number): Biquad {
  const n = Math.tan((Math.PI * Math.min(f0, 0.49 * fs)) / fs);
  return [1, -1, 0, 1 + n, n - 1, 0];
}

/** |H| in dB of a biquad at `f` (sample rate `fs`). */
export function biquadDb(bq: Biquad, f: number, fs: number): number {
  const w = (2 * Math.PI * f) / fs;
  const c1 = Math.cos(w);
  const s1 = Math.sin(w);
  const c2 = Math.cos(2 * w);
  const s2 = Math.sin(2 * w);
  const [b0, b1, b2, a0, a1, a2] = bq;
  const nr = b0 + b1 * c1 + b2 * c2;
  const ni = -(b1 * s1 + b2 * s2);
  const dr = a0 + a1 * c1 + a2 * c2;
  const di = -(a1 * s1 + a2 * s2);
  return 10 * Math.log10((nr * nr + ni * ni) / (dr * dr + di * di));
}

// ---------------------------------------------------------------- the eq plugin's bands
export type BandKind = 'highpass' | 'low_shelf' | 'peak' | 'high_shelf';
export interface EqBand {
  /** `data-band` of its handle */
  band: string;
  kind: BandKind;
  label: string;
  hz: string;
  gain: string | null;
  q: string | null;
}

/** The `eq` plugin's bands and the parameters each handle moves, in processing order. */
export const EQ_BANDS: readonly EqBand[] = [
  { band: 'highpass', kind: 'highpass', label: 'HP', hz: 'highpass_hz', gain: null, q: null },
  { band: 'low_shelf', kind: 'low_shelf', label: 'LS', hz: 'low_shelf_hz', gain: 'low_shelf_gain_db', q: null },
  { band: 'peak1', kind: 'peak', label: '1', hz: 'peak1_hz', gain: 'peak1_gain_db', q: 'peak1_q' },
  { band: 'peak2', kind: 'peak', label: '2', hz: 'peak2_hz', gain: 'peak2_gain_db', q: 'peak2_q' },
  { band: 'peak3', kind: 'peak', label: '3', hz: 'peak3_hz', gain: 'peak3_gain_db', q: 'peak3_q' },
  { band: 'high_shelf', kind: 'high_shelf', label: 'HS', hz: 'high_shelf_hz', gain: 'high_shelf_gain_db', q: null },
];

export type EqParams = Readonly<Record<string, number | null | undefined>>;
const val = (p: EqParams, k: string | null): number | null => {
  const v = k ? p[k] : null;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};

/** The biquads of an EQ's parameters (a band whose parameters are missing is left out). */
export function eqBiquads(p: EqParams, fs: number): Biquad[] {
  const out: Biquad[] = [];
  for (const b of EQ_BANDS) {
    const f = val(p, b.hz);
    if (f === null || f <= 0) continue;
    if (b.kind === 'highpass') {
      // the plugin's 12 dB/oct high-pass: two first-order stages (-6 dB at the corner, no resonance)
      out.push(highpassFirstOrder(f, fs), highpassFirstOrder(f, fs));
      continue;
    }
    const g = val(p, b.gain);
    if (g === null) continue;
    if (b.kind === 'low_shelf') out.push(lowShelfBiquad(f, g, fs));
    else if (b.kind === 'high_shelf') out.push(highShelfBiquad(f, g, fs));
    else {
      const q = val(p, b.q);
      if (q !== null && q > 0) out.push(peakingBiquad(f, g, q, fs));
    }
  }
  return out;
}

/** The approximate response (dB) of an EQ at `freqs` (each below Nyquist taken at 0.999 Nyquist at most). */
export function eqResponse(p: EqParams, freqs: readonly number[], fs = 48000): number[] {
  const bqs = eqBiquads(p, fs);
  return freqs.map((f) => {
    const x = Math.min(f, 0.999 * (fs / 2));
    let db = 0;
    for (const bq of bqs) db += biquadDb(bq, x, fs);
    return Math.round(db * 100) / 100;
  });
}

/** `n` log-spaced frequencies over [fMin, fMax]. */
export function logFreqs(n: number, fMin = EQ_F_MIN, fMax = EQ_F_MAX): number[] {
  if (n < 2) return [fMin];
  return Array.from({ length: n }, (_, i) => fMin * (fMax / fMin) ** (i / (n - 1)));
}

// ---------------------------------------------------------------- dragging a handle
export interface BandValues {
  hz: number;
  gain: number | null;
  q: number | null;
}
export interface Range {
  min: number | null;
  max: number | null;
}
const clampR = (v: number, r: Range | undefined): number =>
  Math.min(r?.max ?? Infinity, Math.max(r?.min ?? -Infinity, v));

/** Pixels of vertical shift-drag that double (up) or halve (down) a peak's Q. */
export const Q_PX_PER_OCTAVE = 60;

/** One pointer move of a handle over a `width` x `height` box (±`range` dB): `dx`, `dy` in box units.
 * Plain: frequency along the log axis (within 20 Hz–20 kHz and the spec) and gain (within the spec; a high-pass
 * has none). Shift on a peak: Q instead (up = narrower), frequency and gain kept. */
export function dragBand(
  v: BandValues,
  band: EqBand,
  dx: number,
  dy: number,
  shift: boolean,
  box: { width: number; height: number; range?: number },
  ranges: { hz?: Range; gain?: Range; q?: Range },
): BandValues {
  if (shift && band.kind === 'peak' && v.q !== null) {
    return { ...v, q: clampR(v.q * 2 ** (-dy / Q_PX_PER_OCTAVE), ranges.q) };
  }
  const fx = freqToX(v.hz, box.width) + dx;
  const hz = clampR(Math.min(EQ_F_MAX, Math.max(EQ_F_MIN, xToFreq(fx, box.width))), ranges.hz);
  const range = box.range ?? EQ_DB_RANGE;
  const gain = band.gain === null || v.gain === null ? v.gain : clampR(v.gain - (dy / (box.height / 2)) * range, ranges.gain);
  return { hz, gain, q: v.q };
}

/** A wheel turn on a peak's handle: Q times 2^(-deltaY/500) (wheel up = narrower), within the spec. */
export function wheelQ(q: number, deltaY: number, r?: Range): number {
  return clampR(q * 2 ** (-deltaY / 500), r);
}
