import { useState } from 'react';
import type { Num } from '../../lib/page';
import type { ParamSpec, StyleTargets } from '../../lib/studio';
import { setTarget, stepOf } from '../../lib/studio';
import { Section } from '../common';
import { EditError, ParamInput } from './ParamInput';
import type { Studio } from './useStudio';

const spec = (min: number, max: number, unit: string, decimals: number): ParamSpec => ({
  min, max, default: null, unit, decimals, step: stepOf(decimals),
});

/** [path in state.style, label, spec]: wide ranges only (the server says what it takes). */
const FIELDS: [string, string, ParamSpec][] = [
  ['lufs', 'Loudness', spec(-40, 0, 'LUFS', 2)],
  ['true_peak_ceiling_dbtp', 'True-peak ceiling', spec(-12, 0, 'dBTP', 2)],
  ['spectral_centroid_hz', 'Centroid', spec(100, 16000, 'Hz', 0)],
  ['stereo_ms_ratio', 'M/S ratio', spec(0, 4, '', 3)],
  ['frequency_balance.low', 'Low share', spec(0, 1, '', 4)],
  ['frequency_balance.mid', 'Mid share', spec(0, 1, '', 4)],
  ['frequency_balance.high', 'High share', spec(0, 1, '', 4)],
];
const TOLERANCES: [string, string, ParamSpec][] = [
  ['tolerances.lufs_lu', '± loudness', spec(0, 12, 'LU', 2)],
  ['tolerances.true_peak_db', '± true peak', spec(0, 12, 'dB', 2)],
  ['tolerances.centroid_rel', '± centroid (rel)', spec(0, 1, '', 3)],
  ['tolerances.ms_abs', '± M/S', spec(0, 4, '', 3)],
  ['tolerances.balance_abs', '± band share', spec(0, 1, '', 3)],
];

function valueAt(style: StyleTargets, path: string): Num {
  const [head, sub] = path.split('.', 2) as [string, string | undefined];
  if (head === 'frequency_balance' && sub) return style.frequency_balance[sub as 'low' | 'mid' | 'high'] ?? null;
  if (head === 'tolerances' && sub) return style.tolerances[sub] ?? null;
  const v = (style as unknown as Record<string, unknown>)[head];
  return typeof v === 'number' ? v : null;
}

/** The style: another style re-predicts the whole mix (a new, undoable state); its targets and tolerances are
 * edited one by one. */
export function TargetsPanel({ studio }: { studio: Studio }): JSX.Element | null {
  const s = studio.state;
  const [styleError, setStyleError] = useState<string | null>(null);
  if (!s) return null;
  const style = s.style;
  const commit = async (path: string, v: number): Promise<string | null> => {
    const a = await studio.post('/targets', () => {
      const cur = studio.current()?.style?.raw ?? style?.raw;
      if (!cur) throw new Error('the studio sent no style targets');
      return { targets: setTarget(cur, path, v) };
    });
    return a.ok ? null : a.error;
  };
  const switchStyle = async (name: string): Promise<void> => {
    if (!name || name === style?.name) return;
    if (typeof window !== 'undefined' && !window.confirm(`Switch to the style "${name}"? This re-predicts the whole mix (undo brings it back).`)) return;
    const a = await studio.post('/style', { style: name });
    setStyleError(a.ok ? null : a.error);
  };
  const names = style?.name && !s.styles.includes(style.name) ? [style.name, ...s.styles] : s.styles;
  const field = ([path, label, sp]: [string, string, ParamSpec]): JSX.Element => (
    <ParamInput key={path} label={label} value={style ? valueAt(style, path) : null} spec={sp}
      onCommit={(v) => commit(path, v)} testid={`target-${path.replace('.', '-')}`} />
  );
  return (
    <Section title="Style targets" testid="targets-editor" className="targets-editor">
      <label className="style-row">
        <span className="param-k">Style</span>
        <select data-testid="style-select" value={style?.name ?? ''} onChange={(e) => void switchStyle(e.target.value)}>
          {style?.name ? null : <option value="">—</option>}
          {names.map((n) => <option key={n} value={n}>{n}</option>)}
        </select>
      </label>
      <EditError error={styleError} />
      {style ? (
        <div className="targets-grid">
          <div>
            <h3>Targets</h3>
            {FIELDS.map(field)}
          </div>
          <div>
            <h3>Tolerances</h3>
            {TOLERANCES.map(field)}
          </div>
        </div>
      ) : (
        <p className="empty">The studio sent no style targets.</p>
      )}
    </Section>
  );
}
