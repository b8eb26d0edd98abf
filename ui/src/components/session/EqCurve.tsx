import type { Num } from '../../lib/page';
import { decadeTicks, dbToY, eqPath, freqToX } from '../../lib/eq';

const EQ_W = 132;
const EQ_H = 72;

export function EqCurve({ freqs, db, label }: { freqs: readonly number[]; db: readonly Num[] | null; label: string }): JSX.Element {
  const d = db ? eqPath(freqs, db, EQ_W, EQ_H) : '';
  return (
    <svg className="eq" viewBox={`0 0 ${EQ_W} ${EQ_H}`} width={EQ_W} height={EQ_H} data-testid="eq-curve"
      role="img" aria-label={`EQ response of ${label}`}>
      {decadeTicks().map((f) => (
        <line key={`f-${f}`} x1={freqToX(f, EQ_W)} x2={freqToX(f, EQ_W)} y1={0} y2={EQ_H} className="eq-grid" />
      ))}
      {[-6, 6].map((g) => (
        <line key={`g-${g}`} x1={0} x2={EQ_W} y1={dbToY(g, EQ_H)} y2={dbToY(g, EQ_H)} className="eq-grid" />
      ))}
      <line x1={0} x2={EQ_W} y1={EQ_H / 2} y2={EQ_H / 2} className="eq-zero" />
      {d ? <path d={d} className="eq-line" /> : <text x={EQ_W / 2} y={EQ_H / 2 - 4} className="eq-none" textAnchor="middle">no curve</text>}
      <text x={2} y={9} className="eq-axis">+12</text>
      <text x={2} y={EQ_H - 2} className="eq-axis">-12 dB</text>
    </svg>
  );
}
