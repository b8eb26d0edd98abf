import { useEffect, useRef, useState } from 'react';
import type { KeyboardEvent } from 'react';
import type { Num } from '../../lib/page';
import type { ParamSpec } from '../../lib/studio';
import { checkValue, clampToSpec } from '../../lib/studio';
import { fmtNum, isNum, roundTo } from '../../lib/format';

/** What committing a value answers: null when it was taken, else the sentence to show by the control. */
export type Commit = (value: number) => Promise<string | null>;

/** The sentence of a refused edit, next to its control. */
export function EditError({ error }: { error: string | null }): JSX.Element | null {
  return error ? (
    <div className="edit-error" data-testid="edit-error" role="alert">
      {error}
    </div>
  ) : null;
}

/** A value typed as text ("+3 dB" works), committed on Enter or blur, Escape reverts, arrows step. The range and
 * step come from the spec; a value outside it is refused here with the range in the sentence; the server's own
 * refusal is shown the same way. */
export function ParamInput({ label, value, spec, onCommit, testid, title, className }: {
  label: string;
  value: Num;
  spec: ParamSpec;
  onCommit: Commit;
  testid?: string;
  title?: string;
  className?: string;
}): JSX.Element {
  const [draft, setDraft] = useState<string | null>(null);
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const busy = useRef(false);
  const refused = useRef<string | null>(null); // a draft the server refused is not sent again on blur
  useEffect(() => setSent(null), [value]);
  const shown = draft ?? fmtNum(sent ?? value, spec.decimals);

  const commit = async (): Promise<void> => {
    if (draft === null || busy.current || draft === refused.current) return;
    const c = checkValue(draft, spec, label);
    if (!c.ok) {
      setError(c.error);
      return;
    }
    if (isNum(value) && c.value === roundTo(value, spec.decimals)) {
      setDraft(null);
      setError(null);
      return;
    }
    busy.current = true;
    const err = await onCommit(c.value).catch((e: unknown) => (e instanceof Error ? e.message : String(e)));
    busy.current = false;
    setError(err);
    refused.current = err === null ? null : draft;
    if (err === null) {
      setSent(c.value);
      setDraft(null);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLInputElement>): void => {
    if (e.key === 'Enter') {
      e.preventDefault();
      void commit();
    } else if (e.key === 'Escape') {
      refused.current = null;
      setDraft(null);
      setError(null);
    } else if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      e.preventDefault();
      const base = checkValue(draft ?? shown, { ...spec, min: null, max: null }, label);
      const from = base.ok ? base.value : isNum(value) ? value : spec.default ?? 0;
      const step = spec.step * (e.shiftKey ? 10 : 1) * (e.key === 'ArrowUp' ? 1 : -1);
      setDraft(fmtNum(clampToSpec(from + step, spec), spec.decimals));
    }
  };

  const unit = spec.unit;
  return (
    <div className={`param ${className ?? ''}${error ? ' has-error' : ''}`} title={title}>
      <label className="param-row">
        <span className="param-k">{label}</span>
        <input
          className="param-input num"
          type="text"
          inputMode="decimal"
          role="spinbutton"
          aria-label={label}
          aria-valuemin={spec.min ?? undefined}
          aria-valuemax={spec.max ?? undefined}
          aria-valuenow={isNum(value) ? value : undefined}
          aria-invalid={error ? true : undefined}
          data-step={spec.step}
          data-testid={testid}
          value={shown}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKey}
          onBlur={() => void commit()}
          onFocus={(e) => e.target.select()}
        />
        {unit ? <span className="param-unit">{unit}</span> : null}
      </label>
      <EditError error={error} />
    </div>
  );
}
