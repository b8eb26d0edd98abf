import type { Num, Report, StereoBands, Views } from '../../lib/page';
import { bandLabels, DASH, fmtDb, fmtRatio, fmtSigned, fmtTol, isNum, withUnit } from '../../lib/format';
import { Badge, KV, Section } from '../common';
import { resultOf } from './Compliance';

function CorrBar({ v }: { v: Num }): JSX.Element {
  if (!isNum(v)) return <span className="muted">{DASH}</span>;
  const c = Math.max(-1, Math.min(1, v));
  const mid = 50;
  const pos = 50 + c * 50;
  const left = Math.min(mid, pos);
  const width = Math.abs(pos - mid);
  const tone = c < 0 ? 'neg' : c < 0.3 ? 'low' : 'ok';
  return (
    <span className="corr" title={`correlation ${fmtSigned(v, 2)} (−1 out of phase, 0 wide, +1 mono)`}>
      <span className="corr-track">
        <span className={`corr-fill ${tone}`} style={{ left: `${left}%`, width: `${width}%` }} />
        <span className="corr-zero" />
      </span>
      <span className="num">{fmtSigned(v, 2)}</span>
    </span>
  );
}

export function Stereo({ report, views, stale }: { report: Report | null; views: Views | null; stale?: boolean }): JSX.Element {
  const m: StereoBands | null = views?.stereo.master ?? null;
  const p: StereoBands | null = views?.stereo.pre_master ?? null;
  const edges = m?.edges_hz.length ? m.edges_hz : p?.edges_hz ?? [];
  const labels = m || p ? bandLabels(edges) : [];
  const ms = report?.targets.ms_ratio ?? null;
  const msResult = ms ? resultOf(ms.pass, ms.hard) : null;
  const loss = report?.master?.mono_folddown_loss_db ?? null;
  return (
    <Section title="Stereo" testid="stereo" className="stereo" stale={stale}>
      <div className="stereo-grid">
        <div className="stats">
          <KV k="M/S ratio (final)" v={fmtRatio(ms?.final ?? report?.final_meters.ms_ratio ?? null)} testid="stereo-ms-final" />
          <KV k="M/S target" v={ms ? `${fmtRatio(ms.target)} ${fmtTol(ms.tolerance)}` : DASH} testid="stereo-ms-target" />
          <KV k="M/S pre-master" v={fmtRatio(ms?.pre_master ?? null)} />
          <KV k="M/S result" v={msResult ? (
            <Badge tone={msResult === 'pass' ? 'pass' : msResult === 'miss' ? 'miss' : 'fail'} testid={null}>{msResult}</Badge>
          ) : DASH} />
          <KV k="Mono fold-down loss" v={withUnit(fmtDb(loss), 'dB')} testid="stereo-folddown"
            title="level lost when the master is summed to mono" />
        </div>
        {labels.length ? (
          <table className="grid stereo-table">
            <thead>
              <tr>
                <th scope="col" rowSpan={2}>Band</th>
                <th scope="colgroup" colSpan={2} className="group">M/S ratio</th>
                <th scope="colgroup" colSpan={2} className="group">L/R correlation</th>
                <th scope="colgroup" colSpan={2} className="group">Fold-down (dB)</th>
              </tr>
              <tr>
                <th scope="col" className="num">master</th>
                <th scope="col" className="num">pre</th>
                <th scope="col">master</th>
                <th scope="col">pre</th>
                <th scope="col" className="num">master</th>
                <th scope="col" className="num">pre</th>
              </tr>
            </thead>
            <tbody>
              {labels.map((label, i) => (
                <tr key={`band-${i}`} data-testid="stereo-band">
                  <th scope="row" className="num">{label}</th>
                  <td className="num strong">{fmtRatio(m?.ms_ratio[i] ?? null)}</td>
                  <td className="num dim">{fmtRatio(p?.ms_ratio[i] ?? null)}</td>
                  <td><CorrBar v={m?.correlation[i] ?? null} /></td>
                  <td className="dim"><CorrBar v={p?.correlation[i] ?? null} /></td>
                  <td className="num strong">{fmtDb(m?.folddown_db[i] ?? null)}</td>
                  <td className="num dim">{fmtDb(p?.folddown_db[i] ?? null)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="empty">No per-band stereo readings in this report.</p>
        )}
      </div>
    </Section>
  );
}
