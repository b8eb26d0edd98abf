import { useCallback, useMemo } from 'react';
import type uPlot from 'uplot';
import type { Bands, Report, Views } from '../../lib/page';
import { BAND_NAMES } from '../../lib/page';
import { spectrumData } from '../../lib/charts';
import { DASH, fmtBandRange, fmtFreq, fmtHz, fmtNum, fmtPct, fmtTolPct, isNum } from '../../lib/format';
import { Section } from '../common';
import { AXIS, UPlotChart } from '../UPlotChart';

const C = { master: '#f0f3f6', pre: '#8a6fd1', target: '#e3b341', final: '#3fb950', band: 'rgba(227,179,65,0.12)' };
const F_MIN = 20;
// the meter analyses at 22.05 kHz (the centroid's rate): the top band ends at its Nyquist, and so does the axis
const F_MAX_DEFAULT = 22050;

export function SpectrumChart({ report, views }: { report: Report | null; views: Views | null }): JSX.Element {
  const d = useMemo(() => spectrumData(views), [views]);
  const c = report?.targets.spectral_centroid_hz ?? null;
  const target = c?.target ?? null;
  const tol = c?.tolerance_rel ?? null;
  const final = report?.final_meters.spectral_centroid_hz ?? c?.final ?? null;
  const data = useMemo<uPlot.AlignedData>(
    () => (d ? ([d.x, d.master, d.pre_master] as uPlot.AlignedData) : [[]]),
    [d],
  );
  const fMax = d && d.x.length ? Math.min(F_MAX_DEFAULT, d.x[d.x.length - 1]! * 1.12) : F_MAX_DEFAULT;
  const makeOptions = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 6 } },
      scales: { x: { time: false, distr: 3, log: 10, range: [F_MIN, fMax] }, y: { range: [0, d?.yMax ?? 10] } },
      axes: [
        {
          ...AXIS,
          label: 'frequency (third-octave band centre; measured up to the 11 kHz analysis band)',
          splits: () => [20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000].filter((f) => f <= fMax),
          filter: (_u, splits) => splits,
          values: (_u, ticks) =>
            ticks.map((t) => (typeof t !== 'number' ? '' : t >= 1000 ? `${fmtNum(t / 1000, 0)}k` : fmtNum(t, 0))),
        },
        { ...AXIS, label: 'share of magnitude (%)', size: 48 },
      ],
      series: [
        { label: 'band', value: (_u, v) => (v === null ? DASH : fmtFreq(v)) },
        { label: 'master', stroke: C.master, width: 2, points: { show: true, size: 4 },
          value: (_u, v) => (v === null ? DASH : `${fmtNum(v, 1)}%`) },
        { label: 'pre-master', stroke: C.pre, width: 1.5, alpha: 0.8, points: { show: true, size: 3 },
          value: (_u, v) => (v === null ? DASH : `${fmtNum(v, 1)}%`) },
      ],
      hooks: {
        drawClear: [
          (u: uPlot) => {
            if (!isNum(target) || !isNum(tol)) return;
            const x0 = u.valToPos(target * (1 - tol), 'x', true);
            const x1 = u.valToPos(target * (1 + tol), 'x', true);
            const ctx = u.ctx;
            ctx.save();
            ctx.fillStyle = C.band;
            ctx.fillRect(x0, u.bbox.top, x1 - x0, u.bbox.height);
            ctx.restore();
          },
        ],
        draw: [
          (u: uPlot) => {
            const ctx = u.ctx;
            const line = (f: number | null, color: string, dash: number[]): void => {
              if (!isNum(f) || f <= 0) return;
              const x = u.valToPos(f, 'x', true);
              ctx.save();
              ctx.strokeStyle = color;
              ctx.lineWidth = 1.5 * devicePixelRatio;
              ctx.setLineDash(dash.map((v) => v * devicePixelRatio));
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
              ctx.restore();
            };
            line(target, C.target, [6, 4]);
            line(final, C.final, []);
          },
        ],
      },
    }),
    [d, target, tol, final, fMax],
  );
  return (
    <div className="spectrum">
      {d ? (
        <UPlotChart makeOptions={makeOptions} data={data} height={260} testid="chart-spectrum"
          label="long-term third-octave spectrum of the master and the pre-master" />
      ) : (
        <div className="chart chart-empty" data-testid="chart-spectrum">no spectrum in this report</div>
      )}
      <div className="chart-legend">
        <span><i className="swatch dashed" style={{ borderColor: C.target }} /> target centroid {isNum(target) ? `${fmtHz(target)} Hz` : DASH}
          {isNum(tol) ? <> <i className="swatch box" style={{ background: 'rgba(227,179,65,0.35)' }} /> {fmtTolPct(tol)}</> : null}</span>
        <span><i className="swatch" style={{ borderColor: C.final }} /> final centroid {isNum(final) ? `${fmtHz(final)} Hz` : DASH}</span>
      </div>
    </div>
  );
}

/** Band balance: the target range per band (target ± tolerance) with the final and pre-master shares. */
export function BalanceChart({ report, bands }: { report: Report | null; bands: Bands }): JSX.Element {
  const t = report?.targets.band_balance ?? null;
  const final = t?.final ?? report?.final_meters.band_balance ?? null;
  const tol = t?.tolerance ?? null;
  const W = 520;
  const rowH = 34;
  const left = 150;
  const right = 20;
  const top = 8;
  const H = top + rowH * 3 + 26;
  const values: number[] = [];
  for (const b of BAND_NAMES) {
    for (const v of [t?.target[b], final?.[b], t?.pre_master[b]]) if (isNum(v)) values.push(v);
    if (isNum(t?.target[b]) && isNum(tol)) values.push((t?.target[b] ?? 0) + tol);
  }
  const max = Math.min(1, Math.max(0.6, Math.ceil(((values.length ? Math.max(...values) : 0.5) + 0.05) * 10) / 10));
  const sx = (v: number): number => left + (Math.max(0, Math.min(max, v)) / max) * (W - left - right);
  const ticks: number[] = [];
  for (let v = 0; v <= max + 1e-9; v += 0.1) ticks.push(Math.round(v * 10) / 10);
  return (
    <div className="balance" data-testid="chart-balance">
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label="band balance: target range, final and pre-master shares">
        {ticks.map((v) => (
          <g key={`tick-${v}`}>
            <line x1={sx(v)} x2={sx(v)} y1={top} y2={top + rowH * 3} className="grid-line" />
            <text x={sx(v)} y={top + rowH * 3 + 14} className="axis-text" textAnchor="middle">
              {fmtNum(v * 100, 0)}%
            </text>
          </g>
        ))}
        {BAND_NAMES.map((b, i) => {
          const y = top + i * rowH + rowH / 2;
          const tv = t?.target[b] ?? null;
          const fv = final?.[b] ?? null;
          const pv = t?.pre_master[b] ?? null;
          const [lo, hi] = bands[b];
          const ok = isNum(fv) && isNum(tv) && isNum(tol) ? Math.abs(fv - tv) <= tol + 1e-9 : null;
          return (
            <g key={b} data-band={b}>
              <text x={8} y={y - 2} className="band-name">{b}</text>
              <text x={8} y={y + 11} className="band-range">{fmtBandRange(lo, hi)}</text>
              <line x1={left} x2={W - right} y1={y} y2={y} className="track" />
              {isNum(tv) && isNum(tol) ? (
                <rect x={sx(tv - tol)} y={y - 9} width={Math.max(1, sx(tv + tol) - sx(tv - tol))} height={18}
                  className="target-range" />
              ) : null}
              {isNum(tv) ? <line x1={sx(tv)} x2={sx(tv)} y1={y - 11} y2={y + 11} className="target-tick" /> : null}
              {isNum(pv) ? (
                <circle cx={sx(pv)} cy={y} r={5} className="pre-marker">
                  <title>{`pre-master ${fmtPct(pv)}`}</title>
                </circle>
              ) : null}
              {isNum(fv) ? (
                <g>
                  <path d={`M${sx(fv)} ${y - 7} L${sx(fv) + 6} ${y} L${sx(fv)} ${y + 7} L${sx(fv) - 6} ${y} Z`}
                    className={ok === false ? 'final-marker miss' : 'final-marker'} />
                  <title>{`final ${fmtPct(fv)}`}</title>
                </g>
              ) : null}
            </g>
          );
        })}
      </svg>
      <div className="chart-legend">
        <span><i className="swatch box" style={{ background: 'rgba(227,179,65,0.35)' }} /> target ± tolerance</span>
        <span><i className="swatch diamond" /> final</span>
        <span><i className="swatch dot" /> pre-master</span>
      </div>
    </div>
  );
}

export function Tone({ report, views, bands, stale }: {
  report: Report | null; views: Views | null; bands: Bands; stale?: boolean;
}): JSX.Element {
  return (
    <Section title="Spectrum" className="tone" stale={stale}>
      <div className="tone-grid">
        <SpectrumChart report={report} views={views} />
        <div>
          <h3>Band balance</h3>
          <BalanceChart report={report} bands={bands} />
        </div>
      </div>
    </Section>
  );
}
