import { useCallback, useMemo, useState } from 'react';
import type uPlot from 'uplot';
import type { OptimiseStep } from '../../lib/studio';
import { DASH, fmtNum, fmtSigned, isNum } from '../../lib/format';
import { Section } from '../common';
import { AXIS, UPlotChart } from '../UPlotChart';
import type { Studio } from './useStudio';

const C = { loss: '#f0f3f6', centroid: '#e3b341', ms: '#5aa9e6', balance: '#8a6fd1' };

function OptimiseChart({ history }: { history: readonly OptimiseStep[] }): JSX.Element {
  const data = useMemo<uPlot.AlignedData>(
    () => [
      history.map((h, i) => h.step ?? i + 1),
      history.map((h) => h.loss),
      history.map((h) => h.centroid_error_rel),
      history.map((h) => h.ms_error),
      history.map((h) => h.balance_error),
    ] as uPlot.AlignedData,
    [history],
  );
  const makeOptions = useCallback(
    (width: number, height: number): uPlot.Options => ({
      width,
      height,
      cursor: { drag: { x: false, y: false }, points: { size: 5 } },
      scales: { x: { time: false } },
      axes: [
        { ...AXIS, label: 'step', values: (_u, ticks) => ticks.map((t) => (t % 1 ? '' : fmtNum(t, 0))) },
        { ...AXIS, label: 'loss / error', size: 48 },
      ],
      series: [
        { label: 'step', value: (_u, v) => (v === null ? DASH : fmtNum(v, 0)) },
        { label: 'loss', stroke: C.loss, width: 2, value: (_u, v) => fmtNum(v, 3) },
        { label: 'centroid error (rel)', stroke: C.centroid, width: 1.5, value: (_u, v) => fmtSigned(v, 3) },
        { label: 'M/S error', stroke: C.ms, width: 1.5, value: (_u, v) => fmtSigned(v, 3) },
        { label: 'balance error', stroke: C.balance, width: 1.5, value: (_u, v) => fmtSigned(v, 3) },
      ],
    }),
    [],
  );
  return <UPlotChart makeOptions={makeOptions} data={data} height={180} testid="optimise-chart"
    label="loss and target errors per refinement step" />;
}

/** The refinement: run N steps with live progress, stop, apply the result as an edit (undoable). */
export function OptimisePanel({ studio }: { studio: Studio }): JSX.Element | null {
  const s = studio.state;
  const [steps, setSteps] = useState('20');
  const [error, setError] = useState<string | null>(null);
  if (!s) return null;
  const o = s.optimise;
  const call = async (path: string, body: unknown, changes = false): Promise<void> => {
    const a = await studio.post(path, body, changes);
    setError(a.ok ? null : a.error);
  };
  const run = (): void => {
    const n = Number(steps.trim());
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      setError(`steps must be a whole number from 1 to 1000; "${steps.trim()}" is not.`);
      return;
    }
    void call('/optimise', { steps: n });
  };
  const last = o.history[o.history.length - 1] ?? null;
  return (
    <Section title="Optimise" testid="optimise" className="optimise"
      aside={o.running ? <span className="running" data-testid="optimise-progress"><span className="pulse" />
        step {isNum(o.step) ? o.step : 0} of {isNum(o.steps) ? o.steps : DASH}</span> : null}>
      <div className="optimise-row">
        <label className="param-row">
          <span className="param-k">Steps</span>
          <input className="param-input num" type="text" inputMode="numeric" data-testid="optimise-steps" value={steps}
            onChange={(e) => setSteps(e.target.value)} onKeyDown={(e) => e.key === 'Enter' && !o.running && run()}
            disabled={o.running} aria-label="steps" />
        </label>
        {o.running ? (
          <button type="button" data-testid="optimise-stop" onClick={() => void call('/optimise/stop', {})}>■ Stop</button>
        ) : (
          <button type="button" className="primary" data-testid="optimise-run" onClick={run}>Run</button>
        )}
        {!o.running && o.result ? (
          <button type="button" data-testid="optimise-apply" onClick={() => void call('/optimise/apply', {}, true)}
            title="make the refined settings a new state (undoable)">Apply as an edit</button>
        ) : null}
      </div>
      {o.history.length ? (
        <>
          <OptimiseChart history={o.history} />
          {last ? (
            <p className="note muted num" data-testid="optimise-last">
              step {last.step ?? o.history.length}: loss {fmtNum(last.loss, 3)} · centroid {fmtSigned(last.centroid_error_rel, 3)} ·
              M/S {fmtSigned(last.ms_error, 3)} · balance {fmtSigned(last.balance_error, 3)}
            </p>
          ) : null}
        </>
      ) : (
        <p className="empty">Refines the current settings against the targets; its result can be applied as an edit.</p>
      )}
      {o.error ? <div className="edit-error" data-testid="optimise-error">{o.error}</div> : null}
      <EditErrorLine error={error} />
    </Section>
  );
}

function EditErrorLine({ error }: { error: string | null }): JSX.Element | null {
  return error ? <div className="edit-error" data-testid="edit-error">{error}</div> : null;
}
