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
