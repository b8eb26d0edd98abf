import { useCallback, useEffect, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import type { Report, Views } from '../../lib/page';
import { curveMax, loudnessData } from '../../lib/charts';
import { DASH, fmtDb, fmtNum, withUnit } from '../../lib/format';
import { KV, Section } from '../common';
import { AXIS, UPlotChart } from '../UPlotChart';
import type { Playhead } from '../../lib/player';

/** A vertical line on the chart's plot area at the player's position: a div on uPlot's overlay, moved by
 * requestAnimationFrame while the player plays (no chart redraw). */
function usePlayheadLine(plot: uPlot | null, playhead: Playhead | null | undefined): void {
  useEffect(() => {
    if (!plot || !playhead) return undefined;
    const line = document.createElement('div');
    line.className = 'playhead';
    line.setAttribute('data-testid', 'playhead');
    plot.over.appendChild(line);
    let raf = 0;
    const place = (): void => {
      const t = playhead.position();
      const x = t === null ? NaN : plot.valToPos(t, 'x');
      if (Number.isFinite(x) && x >= 0 && x <= plot.over.clientWidth) {
        line.style.display = 'block';
        line.style.transform = `translateX(${Math.round(x)}px)`;
      } else {
        line.style.display = 'none';
      }
    };
    const loop = (): void => {
      place();
      raf = playhead.isPlaying() ? requestAnimationFrame(loop) : 0;
    };
    const unsubscribe = playhead.subscribe(() => {
      if (!raf) loop();
    });
    loop();
    return () => {
      unsubscribe();
      if (raf) cancelAnimationFrame(raf);
      line.remove();
    };
  }, [plot, playhead]);
}

const C = {
  momentary: '#5aa9e6',
  short: '#f0f3f6',
  pre: '#8a6fd1',
  integrated: '#3fb950',
  target: '#e3b341',
  over: '#f85149',
};

function LoudnessStats({ report, views }: { report: Report | null; views: Views | null }): JSX.Element {
  const fm = report?.final_meters;
  const integrated = fm?.integrated_lufs ?? report?.targets.integrated_lufs?.final ?? null;
  const tp = fm?.true_peak_dbtp ?? report?.targets.true_peak_dbtp?.final ?? null;
  const plr = integrated !== null && tp !== null ? tp - integrated : null;
  const mom = fm?.momentary_max_lufs ?? curveMax(views?.loudness.master?.momentary_lufs);
  const st = fm?.short_term_max_lufs ?? curveMax(views?.loudness.master?.short_term_lufs);
  const overs = views?.loudness.true_peak_overs_s ?? null;
  return (
    <div className="stats" data-testid="loudness-stats">
      <KV k="Integrated" v={withUnit(fmtDb(integrated), 'LUFS')} testid="stat-integrated" />
      <KV k="LRA" v={withUnit(fmtNum(fm?.loudness_range_lu ?? null, 1), 'LU')} testid="stat-lra" />
      <KV k="True peak" v={withUnit(fmtDb(tp), 'dBTP')} testid="stat-true-peak" />
      <KV k="PLR" v={withUnit(fmtNum(plr, 1), 'dB')} testid="stat-plr" title="peak to loudness ratio: true peak − integrated" />
      <KV k="Max momentary" v={withUnit(fmtDb(mom), 'LUFS')} testid="stat-max-momentary" />
      <KV k="Max short-term" v={withUnit(fmtDb(st), 'LUFS')} testid="stat-max-short-term" />
      <KV
        k="True-peak overs"
        v={overs === null ? DASH : <span className={overs.length ? 'tone-fail' : ''}>{overs.length}</span>}
        testid="stat-overs"
      />
    </div>
  );
}

export function Loudness({ report, views, stale, playhead }: {
  report: Report | null;
  views: Views | null;
  /** studio pages: the numbers wait for a render */
  stale?: boolean;
  /** studio pages: the A/B player's position, drawn as a line */
  playhead?: Playhead | null;
}): JSX.Element {
  const d = useMemo(() => loudnessData(views, report), [views, report]);
  const [plot, setPlot] = useState<uPlot | null>(null);
  usePlayheadLine(plot, playhead);
  const data = useMemo<uPlot.AlignedData>(() => {
    if (!d) return [[]];
    const flat = (v: number | null): (number | null)[] => d.x.map(() => v);
    return [
      d.x,
      d.master_momentary,
      d.master_short_term,
      d.pre_short_term,
      d.pre_momentary,
      flat(d.integrated),
      flat(d.target),
    ] as uPlot.AlignedData;
  }, [d]);
  const makeOptions = useCallback(
    (width: number, height: number): uPlot.Options => {
      const overs = d?.overs ?? [];
      return {
        width,
        height,
        cursor: { drag: { x: true, y: false }, points: { size: 5 } },
        scales: { x: { time: false }, y: { range: [d?.yMin ?? -40, d?.yMax ?? 0] } },
        axes: [
          { ...AXIS, label: 'time (s)', values: (_u, ticks) => ticks.map((t) => fmtNum(t, t % 1 ? 1 : 0)) },
          { ...AXIS, label: 'loudness (LUFS)', size: 48 },
        ],
        series: [
          { label: 'time', value: (_u, v) => (v === null ? DASH : `${fmtNum(v, 1)} s`) },
          { label: 'momentary', stroke: C.momentary, width: 1, value: (_u, v) => fmtDb(v) },
          { label: 'short-term', stroke: C.short, width: 2, value: (_u, v) => fmtDb(v) },
          { label: 'pre-master short-term', stroke: C.pre, width: 1.5, alpha: 0.7, value: (_u, v) => fmtDb(v) },
          { label: 'pre-master momentary', stroke: C.pre, width: 1, alpha: 0.5, show: false,
            value: (_u, v) => fmtDb(v) },
          { label: 'integrated', stroke: C.integrated, width: 1, points: { show: false },
            value: () => fmtDb(d?.integrated ?? null) },
          { label: 'target', stroke: C.target, width: 1.5, dash: [6, 4], points: { show: false },
            value: () => fmtDb(d?.target ?? null) },
        ],
        hooks: {
          draw: [
            (u: uPlot) => {
              if (overs.length === 0) return;
              const ctx = u.ctx;
              const top = u.bbox.top;
              const xs = overs.map((s) => u.valToPos(s, 'x', true)).filter((x) => Number.isFinite(x));
              ctx.save();
              ctx.strokeStyle = 'rgba(248,81,73,0.28)';
              ctx.lineWidth = Math.max(1, devicePixelRatio);
              ctx.beginPath();
              for (const x of xs) {
                ctx.moveTo(x, top);
                ctx.lineTo(x, top + u.bbox.height);
              }
              ctx.stroke();
              ctx.strokeStyle = C.over;
              ctx.lineWidth = 2 * devicePixelRatio;
              ctx.beginPath();
              for (const x of xs) {
                ctx.moveTo(x, top);
                ctx.lineTo(x, top + 14 * devicePixelRatio);
              }
              ctx.stroke();
              ctx.restore();
            },
          ],
        },
      };
    },
    [d],
  );
  return (
    <Section
      title="Loudness over time"
      className="loudness"
      stale={stale}
      aside={<span className="muted">readings at the end of their window (momentary 400 ms, short-term 3 s)</span>}
    >
      <div className="chart-with-stats">
        {d ? (
          <UPlotChart makeOptions={makeOptions} data={data} height={300} testid="chart-loudness"
            label="loudness of the master and the pre-master over time" onPlot={playhead ? setPlot : undefined} />
        ) : (
          <div className="chart chart-empty" data-testid="chart-loudness">no loudness curves in this report</div>
        )}
        <LoudnessStats report={report} views={views} />
      </div>
      {d && d.overs.length ? (
        <p className="note tone-fail">
          {d.overs.length} true-peak over{d.overs.length === 1 ? '' : 's'} above the ceiling (red marks)
        </p>
      ) : null}
    </Section>
  );
}
