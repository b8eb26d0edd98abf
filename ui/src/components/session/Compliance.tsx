import { Fragment } from 'react';
import type { BandName, Bands, BandTarget, Report, ScalarTarget } from '../../lib/page';
import { BAND_NAMES } from '../../lib/page';
import {
  DASH,
  fmtBandRange,
  fmtCeiling,
  fmtDb,
  fmtHz,
  fmtPct,
  fmtPp,
  fmtRatio,
  fmtRelPct,
  fmtSigned,
  fmtTol,
  fmtTolPct,
  fmtTolPp,
  isNum,
  targetLabel,
} from '../../lib/format';
import { Badge, Section } from '../common';
import { withProvisional } from '../../lib/studio';

type Result = 'pass' | 'miss' | 'FAIL' | null;

export function resultOf(pass: boolean | null, hard: boolean): Result {
  if (pass === null) return null;
  if (pass) return 'pass';
  return hard ? 'FAIL' : 'miss';
}

function ResultBadge({ result }: { result: Result }): JSX.Element {
  if (result === null) return <span className="muted">{DASH}</span>;
  const tone = result === 'pass' ? 'pass' : result === 'miss' ? 'miss' : 'fail';
  const title =
    result === 'pass' ? 'within tolerance' : result === 'miss' ? 'soft target missed' : 'hard target missed';
  return (
    <Badge tone={tone} title={title}>
      {result}
    </Badge>
  );
}

interface Cells {
  wanted: string;
  tolerance: string;
  pre_master: string;
  final: string;
  error: string;
}

function Row({ name, label, unit, cells, result, hard, sub, errTone, fresh, staleFields }: {
  name: string;
  label: string;
  unit: string;
  cells: Cells;
  result: Result;
  hard: boolean;
  sub?: boolean;
  errTone?: string;
  /** measured by the render still running (its first pass): shown at once, the rest of the table waits */
  fresh?: boolean;
  /** in a fresh row, the cells the first pass did not measure (still the last report's: dimmed) */
  staleFields?: readonly string[];
}): JSX.Element {
  const dim = (field: string): string => (staleFields?.includes(field) ? ' stale-cell' : '');
  const cls = [sub ? 'sub-row' : '', fresh ? 'fresh' : ''].filter(Boolean).join(' ');
  return (
    <tr data-testid="target-row" data-target={name} className={cls || undefined}
      data-fresh={fresh ? 'true' : undefined}>
      <th scope="row">
        <span className="target-name">{label}</span>
        {unit ? <span className="unit">{unit}</span> : null}
        {hard ? <span className="hard-tag" title="hard target: the mix fails when it is missed">hard</span> : null}
        {fresh ? (
          <span className="fresh-tag" title="from the render's first pass (a quarter of the song, the whole estimated from it); the final pass follows">
            first pass
          </span>
        ) : null}
      </th>
      <td className="num" data-field="wanted">{cells.wanted}</td>
      <td className="num" data-field="tolerance">{cells.tolerance}</td>
      <td className={`num dim${dim('pre_master')}`} data-field="pre_master">{cells.pre_master}</td>
      <td className={`num strong${dim('final')}`} data-field="final">{cells.final}</td>
      <td className={`num ${errTone ?? ''}`} data-field="error">{cells.error}</td>
      <td className="result">
        <ResultBadge result={result} />
      </td>
    </tr>
  );
}

function Why({ text, name }: { text: string; name: string }): JSX.Element {
  return (
    <tr className="why-row" data-why-for={name}>
      <td colSpan={7} data-testid="why">
        <span className="why-label">why</span> {text}
      </td>
    </tr>
  );
}

function tone(result: Result): string {
  return result === 'miss' ? 'tone-miss' : result === 'FAIL' ? 'tone-fail' : '';
}

function scalarRow(name: string, reported: ScalarTarget, provisional?: ScalarTarget): JSX.Element {
  const t = provisional ? withProvisional(reported, provisional) : reported;
  const result = resultOf(t.pass, t.hard);
  let unit = '';
  let cells: Cells;
  switch (name) {
    case 'integrated_lufs':
      unit = 'LUFS';
      cells = { wanted: fmtDb(t.target), tolerance: fmtTol(t.tolerance), pre_master: fmtDb(t.pre_master),
        final: fmtDb(t.final), error: fmtSigned(t.error, 2) };
      break;
    case 'true_peak_dbtp':
      unit = 'dBTP';
      cells = { wanted: fmtCeiling(t.ceiling ?? t.target), tolerance: isNum(t.tolerance) ? fmtTol(t.tolerance) : DASH,
        pre_master: fmtDb(t.pre_master), final: fmtDb(t.final), error: fmtSigned(t.error, 2) };
      break;
    case 'spectral_centroid_hz':
      unit = 'Hz';
      cells = { wanted: fmtHz(t.target),
        tolerance: isNum(t.tolerance_rel) ? fmtTolPct(t.tolerance_rel) : fmtTol(t.tolerance, 0),
        pre_master: fmtHz(t.pre_master), final: fmtHz(t.final),
        error: isNum(t.error_rel) ? fmtRelPct(t.error_rel) : fmtSigned(t.error, 0) };
      break;
    default:
      unit = name === 'ms_ratio' ? 'ratio' : '';
      cells = { wanted: fmtRatio(t.target), tolerance: fmtTol(t.tolerance), pre_master: fmtRatio(t.pre_master),
        final: fmtRatio(t.final), error: fmtSigned(t.error, 2) };
  }
  return (
    <Fragment key={name}>
      <Row name={name} label={targetLabel(name)} unit={unit} cells={cells} result={result} hard={t.hard}
        errTone={tone(result)} fresh={provisional !== undefined}
        staleFields={provisional ? (['pre_master', 'final'] as const).filter((f) => provisional[f] === null) : undefined} />
      {t.why ? <Why text={t.why} name={name} /> : null}
    </Fragment>
  );
}

function bandRows(t: BandTarget, bands: Bands): JSX.Element {
  const result = resultOf(t.pass, t.hard);
  const tol = t.tolerance;
  const bandResult = (b: BandName): Result => {
    const e = t.error[b];
    if (!isNum(e) || !isNum(tol)) return null;
    return Math.abs(e) <= tol + 1e-9 ? 'pass' : t.hard ? 'FAIL' : 'miss';
  };
  return (
    <Fragment key="band_balance">
      <Row name="band_balance" label="Band balance" unit="share" hard={t.hard} result={result}
        cells={{ wanted: DASH, tolerance: fmtTolPp(tol), pre_master: DASH, final: DASH, error: DASH }} />
      {BAND_NAMES.map((b) => {
        const r = bandResult(b);
        const [lo, hi] = bands[b];
        return (
          <Row key={b} name={`band_balance.${b}`} label={`${b}`} unit={fmtBandRange(lo, hi)} hard={false} sub
            result={r} errTone={tone(r)}
            cells={{ wanted: fmtPct(t.target[b]), tolerance: fmtTolPp(tol), pre_master: fmtPct(t.pre_master[b]),
              final: fmtPct(t.final[b]), error: fmtPp(t.error[b]) }} />
        );
      })}
      {t.why ? <Why text={t.why} name="band_balance" /> : null}
    </Fragment>
  );
}

export function Compliance({ report, bands, stale, provisional }: {
  report: Report;
  bands: Bands;
  stale?: boolean;
  /** studio: the first numbers of the render running (by target), shown over the report's while it is stale */
  provisional?: Readonly<Record<string, ScalarTarget>> | null;
}): JSX.Element {
  const t = report.targets;
  const p = stale && provisional ? provisional : {};
  const rows: JSX.Element[] = [];
  if (t.integrated_lufs) rows.push(scalarRow('integrated_lufs', t.integrated_lufs, p.integrated_lufs));
  if (t.true_peak_dbtp) rows.push(scalarRow('true_peak_dbtp', t.true_peak_dbtp, p.true_peak_dbtp));
  if (t.spectral_centroid_hz) rows.push(scalarRow('spectral_centroid_hz', t.spectral_centroid_hz, p.spectral_centroid_hz));
  if (t.ms_ratio) rows.push(scalarRow('ms_ratio', t.ms_ratio, p.ms_ratio));
  if (t.band_balance) rows.push(bandRows(t.band_balance, bands));
  return (
    <Section title="Compliance" testid="compliance" className="compliance" stale={stale}>
      {rows.length === 0 ? (
        <p className="empty">The report holds no targets.</p>
      ) : (
        <table className="grid">
          <thead>
            <tr>
              <th scope="col">Target</th>
              <th scope="col" className="num">Wanted</th>
              <th scope="col" className="num">Tolerance</th>
              <th scope="col" className="num">Pre-master</th>
              <th scope="col" className="num">Final</th>
              <th scope="col" className="num">Error</th>
              <th scope="col">Result</th>
            </tr>
          </thead>
          <tbody>{rows}</tbody>
        </table>
      )}
    </Section>
  );
}
