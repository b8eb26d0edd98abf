import type { Num, RefValue, ReferenceBlock, Report, Shares } from '../../lib/page';
import { BAND_NAMES } from '../../lib/page';
import {
  DASH, fmtDb, fmtFreq, fmtHz, fmtPct, fmtPp, fmtRatio, fmtRelPct, fmtSigned, isNum, stemName, withUnit,
} from '../../lib/format';
import { KV, Section } from '../common';

interface Row {
  name: string;
  label: string;
  reference: string;
  mix: string;
  distance: string;
}

function unitised(text: string, unit: string): string {
  return unit ? withUnit(text, unit) : text;
}

function scalarRow(name: string, label: string, v: RefValue | null, fmt: (x: Num) => string, unit: string,
  signedDecimals: number): Row | null {
  if (!v) return null;
  const rel = name === 'spectral_centroid_hz' && isNum(v.distance_rel) ? ` (${fmtRelPct(v.distance_rel)})` : '';
  return {
    name, label,
    reference: unitised(fmt(v.reference), unit),
    mix: unitised(fmt(v.mix), unit),
    distance: isNum(v.distance) ? `${unitised(fmtSigned(v.distance, signedDecimals), unit)}${rel}` : DASH,
  };
}

function sharesText(s: Shares): string {
  return BAND_NAMES.map((b) => fmtPct(s[b])).join(' / ');
}

/** The header both tables share: what is compared, then the reference, the mix and their difference. */
function ComparisonHead({ first }: { first: string }): JSX.Element {
  return (
    <thead>
      <tr>
        <th scope="col">{first}</th>
        <th scope="col" className="num">reference</th>
        <th scope="col" className="num">mix</th>
        <th scope="col" className="num">mix − reference</th>
      </tr>
    </thead>
  );
}

/** The octaves' levels relative to each track's own integrated loudness: the comparison the distance makes. */
function matched(levels: readonly Num[], lufs: Num): Num[] {
  return levels.map((v) => (isNum(v) && isNum(lufs) ? v - lufs : null));
}

function SpectrumTable({ r }: { r: ReferenceBlock }): JSX.Element | null {
  const sp = r.spectrum;
  if (!sp || sp.octaves_hz.length === 0) return null;
  const ref = matched(sp.reference_db, r.integrated_lufs?.reference ?? null);
  const mix = matched(sp.mix_db, r.integrated_lufs?.mix ?? null);
  return (
    <table className="grid reference-spectrum" data-testid="reference-spectrum">
      <caption>
        Long-term spectrum per octave, dB relative to each track's loudness; distance (RMS over the octaves){' '}
        <span className="num" data-testid="reference-spectrum-distance">{withUnit(fmtDb(sp.distance_db), 'dB')}</span>
      </caption>
      <ComparisonHead first="Octave" />
      <tbody>
        {sp.octaves_hz.map((hz, i) => {
          const a = ref[i] ?? null;
          const b = mix[i] ?? null;
          const d = isNum(a) && isNum(b) ? b - a : null;
          return (
            <tr key={`octave-${hz}`} data-testid="reference-octave">
              <th scope="row">{fmtFreq(hz)}</th>
              <td className="num">{fmtSigned(a, 1)}</td>
              <td className="num">{fmtSigned(b, 1)}</td>
              <td className="num" data-field="difference">{fmtSigned(d, 1)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A mix toward a reference track: each target on the reference and on the mix, and the two spectra. */
export function Reference({ report, stale }: { report: Report | null; stale?: boolean }): JSX.Element | null {
  const r = report?.reference ?? null;
  if (!r) return null;
  const rows = [
    scalarRow('integrated_lufs', 'Loudness', r.integrated_lufs, fmtDb, 'LUFS', 2),
    scalarRow('loudness_range_lu', 'Loudness range', r.loudness_range_lu, fmtDb, 'LU', 2),
    scalarRow('spectral_centroid_hz', 'Spectral centroid', r.spectral_centroid_hz, fmtHz, 'Hz', 0),
    scalarRow('ms_ratio', 'M/S ratio', r.ms_ratio, fmtRatio, '', 2),
  ].filter((x): x is Row => x !== null);
  const bb = r.band_balance;
  if (bb) {
    rows.push({ name: 'band_balance', label: 'Band balance low / mid / high', reference: sharesText(bb.reference),
      mix: sharesText(bb.mix), distance: isNum(bb.distance) ? `${fmtPp(bb.distance)} (largest)` : DASH });
  }
  return (
    <Section title="Reference" testid="reference" className="reference" stale={stale}>
      <div className="stats">
        <KV k="Reference track" v={r.path ? stemName(r.path) : DASH} testid="reference-path" title={r.path ?? undefined} />
        <KV k="Its rate" v={withUnit(fmtHz(r.sample_rate), 'Hz')} />
      </div>
      <table className="grid reference-targets">
        <ComparisonHead first="Target" />
        <tbody>
          {rows.map((row) => (
            <tr key={row.name} data-testid="reference-row" data-target={row.name}>
              <th scope="row">{row.label}</th>
              <td className="num" data-field="reference">{row.reference}</td>
              <td className="num" data-field="mix">{row.mix}</td>
              <td className="num" data-field="distance">{row.distance}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <SpectrumTable r={r} />
    </Section>
  );
}
