import { useEffect, useReducer, useState } from 'react';
import type { AbPlayer, Side } from '../../lib/player';
import { fmtClock, matchedGains, referenceRequest, referenceUrl, withVersion } from '../../lib/studio';
import { fmtDb, fmtSigned, withUnit } from '../../lib/format';
import { Section } from '../common';
import type { Studio } from './useStudio';

function inField(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el?.tagName && ['INPUT', 'TEXTAREA', 'SELECT', 'BUTTON'].includes(el.tagName);
}

/** Time and seek bar, redrawn by requestAnimationFrame only while playing. */
function Clock({ player }: { player: AbPlayer }): JSX.Element {
  const [, tick] = useReducer((x: number) => x + 1, 0);
  useEffect(() => {
    let raf = 0;
    const loop = (): void => {
      tick();
      raf = player.isPlaying() ? requestAnimationFrame(loop) : 0;
    };
    const off = player.subscribe(() => {
      if (!raf) loop();
    });
    return () => {
      off();
      if (raf) cancelAnimationFrame(raf);
    };
  }, [player]);
  const d = player.duration();
  const p = player.position() ?? 0;
  return (
    <span className="ab-clock">
      <input type="range" className="ab-seek" data-testid="ab-seek" min={0} max={d || 1} step={0.05} value={Math.min(p, d || 1)}
        disabled={!d} aria-label="position" onChange={(e) => player.seek(Number(e.target.value))} />
      <span className="num" data-testid="ab-time">{fmtClock(p)} / {fmtClock(d)}</span>
    </span>
  );
}

/** Listen: the current mix (or the monitor mix) against a reference, loudness-matched, switched without a gap. */
export function ListenPanel({ studio, player, monitorText, monitorError }: {
  studio: Studio; player: AbPlayer; monitorText: string; monitorError: string | null;
}): JSX.Element | null {
  const s = studio.state;
  const [, tick] = useReducer((x: number) => x + 1, 0);
  useEffect(() => player.subscribe(tick), [player]);
  const refs = s?.audio.references ?? [];
  const [refName, setRefName] = useState<string>(refs[0]?.name ?? '');
  const ref = refs.find((r) => r.name === refName) ?? refs[0] ?? null;
  const monitor = s?.audio.monitor ?? null;
  const a = monitor ?? s?.audio.current ?? null;
  const gains = matchedGains(a?.lufs ?? null, ref?.lufs ?? null);
  const [active, setActive] = useState(false);
  const [loading, setLoading] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const settled = !!s && s.status === 'ready' && !s.behind;
  const version = s?.version ?? 0;

  useEffect(() => player.setMatch(gains.a, gains.b), [player, gains.a, gains.b]);

  const load = (side: Side, url: string): void => {
    if (player.url(side) === url) return;
    setLoading((n) => n + 1);
    player
      .load(side, url)
      .then(() => setError(null))
      .catch((e: unknown) => setError(`${side === 'A' ? 'A' : 'B'} could not be loaded: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => setLoading((n) => n - 1));
  };
  // A: the current render (or the monitor mix), reloaded when a new render lands; the position is kept
  const aUrl = a ? withVersion(a.url, `${version}${monitor ? `-m${monitor.lufs ?? ''}` : ''}`) : null;
  useEffect(() => {
    if (active && aUrl && settled) load('A', aUrl);
  }, [active, aUrl, settled]);
  // B: the reference ("equal" does not change with an edit, "previous" does, a user file when another is chosen)
  const bUrl = ref ? referenceUrl(ref, version) : null;
  useEffect(() => {
    if (active && bUrl && settled) load('B', bUrl);
  }, [active, bUrl, settled]);

  // a user-chosen reference file: POST B/reference, then B selects it when the state lists it
  const [refPath, setRefPath] = useState('');
  const [refBusy, setRefBusy] = useState(false);
  const [refError, setRefError] = useState<string | null>(null);
  const [wantUser, setWantUser] = useState<string | null>(null); // the label (or '') awaited
  const userRef = refs.find((r) => r.name === 'user') ?? null;
  useEffect(() => {
    if (wantUser === null || !userRef) return;
    setRefName('user');
    setWantUser(null);
  }, [wantUser, userRef]);
  const chooseReference = (): void => {
    const req = referenceRequest(refPath);
    if (!req.ok) {
      setRefError(req.error);
      return;
    }
    setRefBusy(true);
    setRefError(null);
    void studio.post('/reference', req.body, false).then((answer) => {
      setRefBusy(false);
      if (answer.ok) setWantUser(req.body.path);
      else setRefError(answer.error);
    });
  };

  const side = player.currentSide();
  const toggleSide = (): void => player.setSide(side === 'A' ? 'B' : 'A');
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.ctrlKey || e.metaKey || e.altKey || inField(e.target)) return;
      if (e.key === 'a' || e.key === 'A') player.setSide('A');
      else if (e.key === 'b' || e.key === 'B') player.setSide('B');
      else if (e.key === ' ') {
        e.preventDefault();
        player.setSide(player.currentSide() === 'A' ? 'B' : 'A');
      } else return;
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [player]);

  const playPause = (): void => {
    if (player.isPlaying()) {
      player.pause();
      return;
    }
    if (!active) setActive(true);
    if (!player.loaded('A') && !player.loaded('B')) {
      // first press: load both, then play
      const urls: [Side, string | null][] = [['A', aUrl], ['B', bUrl]];
      setLoading((n) => n + 1);
      Promise.all(urls.filter((u): u is [Side, string] => u[1] !== null).map(([sd, u]) => player.load(sd, u)))
        .then(() => player.play())
        .then(() => setError(null))
        .catch((e: unknown) => setError(`the audio could not be played: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => setLoading((n) => n - 1));
      return;
    }
    void player.play().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };

  if (!s) return null;
  const playing = player.isPlaying();
  return (
    <Section title="Listen (A/B)" testid="ab-player" className="listen"
      aside={monitorText ? <span className="monitor-note" data-testid="monitor-note">{monitorText}</span> : null}>
      <div className="ab-row">
        <button type="button" className="primary" data-testid="play" onClick={playPause} disabled={!a}>
          {playing ? '❚❚ Pause' : loading ? 'Loading…' : '▶ Play'}
        </button>
        <button type="button" className="ab-toggle" data-testid="ab-toggle" data-side={side} aria-pressed={side === 'B'}
          onClick={toggleSide} title="switch A/B at the same position (keys A, B, space)">
          <span className={side === 'A' ? 'on' : ''}>A</span>
          <span className={side === 'B' ? 'on' : ''}>B</span>
        </button>
        <Clock player={player} />
      </div>
      <div className="ab-sources">
        <div className={`ab-src${side === 'A' ? ' active' : ''}`} data-testid="ab-a">
          <b>A</b> {monitor ? `monitor mix${monitorText ? ` (${monitorText.replace(/^monitor: /, '')})` : ''}` : 'current mix'}
          <span className="num muted"> · {withUnit(fmtDb(a?.lufs ?? null), 'LUFS')}</span>
          <span className="num gain-applied" data-testid="gain-a"> · gain {withUnit(fmtSigned(gains.a, 1), 'dB')}</span>
        </div>
        <div className={`ab-src${side === 'B' ? ' active' : ''}`} data-testid="ab-b">
          <b>B</b>{' '}
          <select data-testid="ab-reference" value={ref?.name ?? ''} onChange={(e) => setRefName(e.target.value)}
            disabled={refs.length === 0} aria-label="reference">
            {refs.length ? refs.map((r) => <option key={r.name} value={r.name}>{r.label}</option>) : <option value="">no reference</option>}
          </select>
          <span className="num muted"> · {withUnit(fmtDb(ref?.lufs ?? null), 'LUFS')}</span>
          <span className="num gain-applied" data-testid="gain-b"> · gain {withUnit(fmtSigned(gains.b, 1), 'dB')}</span>
        </div>
      </div>
      <form className="ref-file" onSubmit={(e) => { e.preventDefault(); chooseReference(); }}>
        <label>
          <span className="muted">reference file</span>
          <input type="text" data-testid="reference-path" value={refPath} spellCheck={false}
            placeholder="path under the served folder, e.g. refs/song.wav" aria-label="reference file"
            aria-invalid={refError ? true : undefined} onChange={(e) => setRefPath(e.target.value)} />
        </label>
        <button type="submit" data-testid="reference-use" disabled={refBusy || !refPath.trim()}
          title="make this WAV, FLAC or AIFF file reference B">{refBusy ? 'Loading…' : 'Use'}</button>
      </form>
      {refError ? <div className="edit-error" data-testid="reference-error" role="alert">{refError}</div> : null}
      <p className="note muted">Loudness-matched: the louder side is turned down to the quieter one, so level never wins.
        Keys: A, B, space.</p>
      {error ? <div className="edit-error" data-testid="ab-error">{error}</div> : null}
      {monitorError ? <div className="edit-error" data-testid="monitor-error">{monitorError}</div> : null}
    </Section>
  );
}
