import { describe, expect, it } from 'vitest';
import {
  bandLabels,
  DASH,
  fmtBandRange,
  fmtCeiling,
  fmtCompressor,
  fmtDb,
  fmtFreq,
  fmtHz,
  fmtMix,
  fmtNum,
  fmtPan,
  fmtPct,
  fmtPp,
  fmtRatio,
  fmtRelPct,
  fmtSeconds,
  fmtSigned,
  fmtTimestamp,
  fmtTol,
  fmtTolPct,
  fmtTolPp,
  roundTo,
  shortHash,
  stemName,
  targetLabel,
  withUnit,
} from './format';

describe('roundTo', () => {
  it("rounds like Python's format(): exact binary value, ties to even", () => {
    expect(roundTo(1.005, 2)).toBe(1); // the double is 1.00499999...
    expect(roundTo(1.0051, 2)).toBe(1.01);
    expect(roundTo(0.125, 2)).toBe(0.12); // exact tie -> even
    expect(roundTo(0.375, 2)).toBe(0.38);
    expect(roundTo(2.5, 0)).toBe(2);
    expect(roundTo(3.5, 0)).toBe(4);
    expect(roundTo(-2.5, 0)).toBe(-2);
    expect(roundTo(8.45, 1)).toBe(8.4); // the double is 8.4499999...
    expect(roundTo(8.4709, 1)).toBe(8.5);
  });
  it('never returns negative zero', () => {
    expect(Object.is(roundTo(-0.001, 2), 0)).toBe(true);
    expect(Object.is(roundTo(-0, 2), 0)).toBe(true);
  });
  it('handles tiny and huge values', () => {
    expect(roundTo(1e-7, 2)).toBe(0);
    expect(roundTo(1.5e21, 0)).toBe(1.5e21);
    expect(roundTo(123456.789, 2)).toBe(123456.79);
  });
});

describe('fmtNum / fmtDb / fmtRatio / fmtHz', () => {
  it('formats fixed decimals', () => {
    expect(fmtDb(-9.5198)).toBe('-9.52');
    expect(fmtDb(-1)).toBe('-1.00');
    expect(fmtRatio(0.2266)).toBe('0.23');
    expect(fmtHz(2781.7693)).toBe('2782');
    expect(fmtHz(2781.4)).toBe('2781');
    expect(fmtNum(3.14159, 3)).toBe('3.142');
  });
  it('uses ASCII minus and no negative zero', () => {
    expect(fmtDb(-0)).toBe('0.00');
    expect(fmtDb(-0.004)).toBe('0.00');
    expect(fmtDb(-0.0051)).toBe('-0.01');
    expect(fmtDb(-0.005)).toBe('-0.01'); // the double is -0.005000000000000000104
    expect(fmtNum(-0.125, 2)).toBe('-0.12');
    expect(fmtNum(0.5, 0)).toBe('0');
    expect(fmtNum(-0.5, 0)).toBe('0');
    expect(fmtNum(9.995, 2)).toBe('9.99'); // 9.99499999...
    expect(fmtNum(99.96, 1)).toBe('100.0');
    expect(fmtNum(0.05, 0)).toBe('0');
    expect(fmtDb(-21.8773)).not.toContain('\u2212');
  });
  it('prints a dash for missing values', () => {
    for (const v of [null, undefined, Number.NaN, Infinity, -Infinity]) {
      expect(fmtNum(v as number | null)).toBe(DASH);
      expect(fmtDb(v as number | null)).toBe(DASH);
      expect(fmtHz(v as number | null)).toBe(DASH);
      expect(fmtRatio(v as number | null)).toBe(DASH);
    }
  });
});

describe('fmtSigned', () => {
  it('puts an explicit plus on positives', () => {
    expect(fmtSigned(0.0158, 2)).toBe('+0.02');
    expect(fmtSigned(-0.0489, 2)).toBe('-0.05');
    expect(fmtSigned(4, 1)).toBe('+4.0');
  });
  it('prints zero unsigned, including negative zero and values rounding to zero', () => {
    expect(fmtSigned(0, 2)).toBe('0.00');
    expect(fmtSigned(-0, 2)).toBe('0.00');
    expect(fmtSigned(-0.0031, 2)).toBe('0.00');
    expect(fmtSigned(0.0049, 2)).toBe('0.00');
    expect(fmtSigned(0.125, 2)).toBe('+0.12');
  });
  it('dashes missing values', () => {
    expect(fmtSigned(null)).toBe(DASH);
    expect(fmtSigned(Number.NaN)).toBe(DASH);
  });
});

describe('percent formats', () => {
  it('relative error as signed percent', () => {
    expect(fmtRelPct(0.0158)).toBe('+1.6%');
    expect(fmtRelPct(-0.0065)).toBe('-0.7%');
    expect(fmtRelPct(0)).toBe('0.0%');
    expect(fmtRelPct(-0.0004)).toBe('0.0%');
    expect(fmtRelPct(null)).toBe(DASH);
  });
  it('shares as percent', () => {
    expect(fmtPct(0.2479)).toBe('24.8%');
    expect(fmtPct(0.4167)).toBe('41.7%');
    expect(fmtPct(1)).toBe('100.0%');
    expect(fmtPct(-0)).toBe('0.0%');
    expect(fmtPct(null)).toBe(DASH);
  });
  it('share errors as signed percentage points', () => {
    expect(fmtPp(-0.0021)).toBe('-0.2 pp');
    expect(fmtPp(0.1598)).toBe('+16.0 pp');
    expect(fmtPp(0.00049)).toBe('0.0 pp');
    expect(fmtPp(null)).toBe(DASH);
  });
  it('mix as integer percent', () => {
    expect(fmtMix(0.484)).toBe('48%');
    expect(fmtMix(0.625)).toBe('62%'); // 62.5 is an exact tie: to even, as Python prints it
    expect(fmtMix(0.626)).toBe('63%');
    expect(fmtMix(null)).toBe(DASH);
  });
});

describe('tolerances and ceilings', () => {
  it('formats tolerances', () => {
    expect(fmtTol(0.1)).toBe('±0.10');
    expect(fmtTol(-0.1)).toBe('±0.10');
    expect(fmtTolPct(0.1)).toBe('±10.0%');
    expect(fmtTolPp(0.1)).toBe('±10.0 pp');
    expect(fmtTol(null)).toBe(DASH);
    expect(fmtTolPct(null)).toBe(DASH);
    expect(fmtTolPp(undefined)).toBe(DASH);
  });
  it('formats a ceiling', () => {
    expect(fmtCeiling(-1)).toBe('≤ -1.00');
    expect(fmtCeiling(null)).toBe(DASH);
  });
});

describe('frequencies and bands', () => {
  it('short frequency labels', () => {
    expect(fmtFreq(120)).toBe('120 Hz');
    expect(fmtFreq(2000)).toBe('2 kHz');
    expect(fmtFreq(1250)).toBe('1.25 kHz');
    expect(fmtFreq(12500)).toBe('12.5 kHz');
    expect(fmtFreq(null)).toBe(DASH);
  });
  it('band ranges', () => {
    expect(fmtBandRange(null, 250)).toBe('< 250 Hz');
    expect(fmtBandRange(250, 4000)).toBe('250 Hz–4 kHz');
    expect(fmtBandRange(4000, null)).toBe('> 4 kHz');
    expect(fmtBandRange(120, 500)).toBe('120–500 Hz');
    expect(fmtBandRange(2000, 8000)).toBe('2–8 kHz');
    expect(fmtBandRange(null, null)).toBe('full band');
  });
  it('band labels from inner edges', () => {
    expect(bandLabels([120, 500, 2000, 8000])).toEqual([
      '< 120 Hz',
      '120–500 Hz',
      '500 Hz–2 kHz',
      '2–8 kHz',
      '> 8 kHz',
    ]);
    expect(bandLabels([])).toEqual(['full band']);
  });
});

describe('misc', () => {
  it('pan', () => {
    expect(fmtPan(0)).toBe('C');
    expect(fmtPan(-0.3)).toBe('L30');
    expect(fmtPan(0.9)).toBe('R90');
    expect(fmtPan(0.004)).toBe('C');
    expect(fmtPan(null)).toBe(DASH);
  });
  it('compressor', () => {
    expect(fmtCompressor(6, -29.82)).toBe('6.0:1 @ -29.8 dB');
    expect(fmtCompressor(4.395, null)).toBe(`4.4:1 @ ${DASH} dB`);
    expect(fmtCompressor(null, null)).toBe(DASH);
  });
  it('seconds', () => {
    expect(fmtSeconds(4.673)).toBe('4.7');
    expect(fmtSeconds(12, true)).toBe('12.0 s');
    expect(fmtSeconds(null, true)).toBe(DASH);
  });
  it('timestamps in UTC, raw text when unparseable', () => {
    expect(fmtTimestamp('2026-12-06T08:04:41.835Z')).toBe('2026-12-06 08:04:41 UTC');
    expect(fmtTimestamp('yesterday')).toBe('yesterday');
    expect(fmtTimestamp(null)).toBe(DASH);
  });
  it('stem names', () => {
    expect(stemName('/tmp/demo1/stems/Kick In.wav')).toBe('Kick In');
    expect(stemName('stems/Gtr L.wav')).toBe('Gtr L');
    expect(stemName('C:\\a\\b.flac')).toBe('b');
    expect(stemName('noext')).toBe('noext');
    expect(stemName('.hidden')).toBe('.hidden');
    expect(stemName(null)).toBe(DASH);
  });
  it('hashes, units and labels', () => {
    expect(shortHash('dad0a946fca2efd8bca3')).toBe('dad0a946fca2');
    expect(shortHash(null)).toBe(DASH);
    expect(withUnit('-9.52', 'LUFS')).toBe('-9.52 LUFS');
    expect(withUnit(DASH, 'LUFS')).toBe(DASH);
    expect(targetLabel('ms_ratio')).toBe('Mid/side ratio');
    expect(targetLabel('new_target')).toBe('new target');
  });
});
