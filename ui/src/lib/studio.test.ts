import { describe, expect, it } from 'vitest';
import {
  checkValue,
  clampToSpec,
  errorSentence,
  findChainEntry,
  getParam,
  historyLabel,
  isStale,
  matchedGains,
  monitorLabel,
  needsFetch,
  parseEvent,
  parseNumber,
  parseSpec,
  parseSpecs,
  parseStudioState,
  quantisedChanges,
  referenceRequest,
  referenceUrl,
  setParam,
  setParams,
  setTarget,
  studioReducer,
  toggleIndex,
  withProvisional,
  withVersion,
  type StudioState,
} from './studio';
import { loadFixture } from './fixtures';
import { parsePage, type SessionPage } from './page';

const fixture = (): Record<string, unknown> => loadFixture('studio-state') as Record<string, unknown>;
const state = (over: Record<string, unknown> = {}): StudioState => {
  const s = parseStudioState({ ...fixture(), ...over });
  if (!s) throw new Error('fixture is not a studio state');
  return s;
};

describe('provisional numbers', () => {
  const row = {
    hard: true, target: -9.5, tolerance: 0.1, pre_master: -18.4, final: -9.52, error: -0.02, pass: true,
  };
  it('are read while a render runs and dropped otherwise', () => {
    const running = state({ status: 'rendering', provisional: { targets: { integrated_lufs: row, ms_ratio: 'junk' } } });
    expect(Object.keys(running.provisional ?? {})).toEqual(['integrated_lufs']);
    expect(running.provisional?.integrated_lufs?.final).toBe(-9.52);
    expect(state({ status: 'ready', provisional: { targets: { integrated_lufs: row } } }).provisional).toBeNull();
    expect(state({ status: 'rendering', provisional: null }).provisional).toBeNull();
  });
  it('replace what they measured and keep the rest of the row', () => {
    const reported = state().page.report?.targets.ms_ratio;
    if (!reported) throw new Error('fixture has no ms_ratio');
    const merged = withProvisional(reported, {
      ...reported, pre_master: null, final: 0.42, error: 0.02, pass: true, why: null,
    });
    expect(merged.final).toBe(0.42);
    expect(merged.pre_master).toBe(reported.pre_master);
    expect(merged.target).toBe(reported.target);
    expect(merged.why).toBe(reported.why);
  });
});

describe('parseStudioState', () => {
  it('reads the fixture', () => {
    const s = state();
    expect(s.version).toBe(7);
    expect(s.status).toBe('ready');
    expect(s.can_undo).toBe(true);
    expect(s.can_redo).toBe(false);
    expect(s.dirty).toBe(true);
    expect(s.page.kind).toBe('session');
    expect(s.page.report?.stems).toHaveLength(8);
    expect(s.page.studio).toEqual({ api: '/api/studio/-' });
    expect((s.settings?.stems as unknown[]).length).toBe(8);
    expect(s.settings?.schema).toBe('automix.settings/1');
    expect(s.style?.name).toBe('rock_punk');
    expect(s.style?.frequency_balance.mid).toBe(0.4167);
    expect(s.style?.tolerances.ms_abs).toBe(0.1);
    expect(s.styles).toEqual(['country_pop', 'rnb_ballad', 'rock_punk']);
    expect(s.specs.eq?.highpass_hz).toEqual({ min: 10, max: 1000, default: 20, unit: 'Hz', decimals: 1, step: 0.1 });
    expect(s.specs.gain?.gain_db?.unit).toBe('dB');
    expect(s.envelope).toEqual({ stem_level_range_db: 4 });
    expect(s.audio.current?.url).toBe('/api/studio/demo/audio/current');
    expect(s.audio.references.map((r) => r.name)).toEqual(['equal', 'previous']);
    expect(s.audio.monitor).toBeNull();
    expect(s.optimise.running).toBe(false);
    expect(s.behind).toBe(false);
  });

  it('gives safe defaults for garbage and refuses what is no studio state', () => {
    expect(parseStudioState(null)).toBeNull();
    expect(parseStudioState({ version: 3 })).toBeNull();
    expect(parseStudioState({ page: { kind: 'batch' } })).toBeNull();
    const s = parseStudioState({ page: { kind: 'session' }, status: 'weird', specs: 3, audio: { monitor: { url: 7 } },
      optimise: { history: [null, { loss: 'x' }] } })!;
    expect(s.version).toBe(0);
    expect(s.status).toBe('ready');
    expect(s.settings).toBeNull();
    expect(s.specs).toEqual({});
    expect(s.audio).toEqual({ current: null, references: [], monitor: null });
    expect(s.optimise.history).toHaveLength(2);
    expect(s.optimise.history[1]?.loss).toBeNull();
  });

  it('reads a monitor with its strips', () => {
    const s = state({ audio: { monitor: { url: '/m', lufs: -11, muted: [1, 'x', 3], soloed: [] } } });
    expect(s.audio.monitor).toEqual({ url: '/m', lufs: -11, muted: [1, 3], soloed: [] });
  });
});

describe('page.studio', () => {
  it('is null on static pages and parsed on served ones', () => {
    expect((parsePage(loadFixture('session')) as SessionPage).studio).toBeNull();
    expect((parsePage({ kind: 'session', studio: { api: '/api/studio/a/' } }) as SessionPage).studio).toEqual({ api: '/api/studio/a' });
    expect((parsePage({ kind: 'session', studio: null }) as SessionPage).studio).toBeNull();
    expect((parsePage({ kind: 'session', studio: { api: 'https://evil.example/x' } }) as SessionPage).studio).toBeNull();
    expect((parsePage({ kind: 'session', studio: { api: '//evil.example/x' } }) as SessionPage).studio).toBeNull();
  });
});

describe('specs', () => {
  it('accepts the CLI list form too', () => {
    const s = parseSpecs([{ plugin: 'gain', params: [{ name: 'gain_db', min: -60, max: 30, default: 0 }] }]);
    expect(s.gain?.gain_db).toEqual({ min: -60, max: 30, default: 0, unit: 'dB', decimals: 2, step: 0.01 });
  });
  it('defaults unit and decimals from the name', () => {
    expect(parseSpec('peak1_q', {}).decimals).toBe(3);
    expect(parseSpec('attack_ms', {}).unit).toBe('ms');
    expect(parseSpec('pan', { step: 0.05 }).step).toBe(0.05);
  });
});

describe('values', () => {
  const gain = parseSpec('gain_db', { min: -60, max: 30 });
  it('parses what a person types', () => {
    expect(parseNumber('+3 dB')).toBe(3);
    expect(parseNumber('\u22121.5')).toBe(-1.5);
    expect(parseNumber('-2,5')).toBe(-2.5);
    expect(parseNumber('40 Hz')).toBe(40);
    expect(parseNumber('2 kHz')).toBe(2000);
    expect(parseNumber('12ms')).toBe(12);
    expect(parseNumber('4:1')).toBe(4);
    expect(parseNumber('.5')).toBe(0.5);
    expect(parseNumber('')).toBeNull();
    expect(parseNumber('loud')).toBeNull();
    expect(parseNumber('3 dB dB')).toBeNull();
  });
  it('checks the range and rounds to the spec', () => {
    expect(checkValue('+3 dB', gain, 'gain')).toEqual({ ok: true, value: 3 });
    expect(checkValue('1.23456', gain, 'gain')).toEqual({ ok: true, value: 1.23 });
    const over = checkValue('45', gain, 'Fader');
    expect(over.ok).toBe(false);
    expect(!over.ok && over.error).toBe('Fader must be within -60.00 to 30.00 dB; 45.00 dB is out of range.');
    const bad = checkValue('abc', gain, 'Fader');
    expect(!bad.ok && bad.error).toMatch(/^Fader: "abc" is not a number \(-60\.00 to 30\.00 dB\)\.$/);
    expect(checkValue('-60', gain, 'g').ok).toBe(true);
    expect(checkValue('-60.01', gain, 'g').ok).toBe(false);
    // no range known: any number passes
    expect(checkValue('1e3', parseSpec('x', null), 'x')).toEqual({ ok: true, value: 1000 });
  });
  it('clamps a drag into the range', () => {
    expect(clampToSpec(99, gain)).toBe(30);
    expect(clampToSpec(-3.14159, gain)).toBe(-3.14);
  });
});

describe('settings edits', () => {
  it('sets a param in a new object and leaves the old untouched', () => {
    const s = state();
    const before = JSON.stringify(s.settings);
    const ref = { strip: { kind: 'stem', index: 0 } as const, plugin: 'gain', param: 'gain_db' };
    expect(getParam(s.settings, ref)).toBe(4.75);
    const next = setParam(s.settings, ref, 7.75);
    expect(next).not.toBe(s.settings);
    expect(getParam(next, ref)).toBe(7.75);
    expect(getParam(s.settings, ref)).toBe(4.75);
    expect(JSON.stringify(s.settings)).toBe(before);
    // everything else is the same, unknown fields included
    expect(next.schema).toBe('automix.settings/1');
    const a = JSON.parse(before) as { stems: { chain: { params: Record<string, number> }[] }[] };
    a.stems[0]!.chain[3]!.params.gain_db = 7.75;
    expect(next).toEqual(a);
  });

  it('edits the master chain and its input gain field', () => {
    const s = state();
    const ceiling = { strip: { kind: 'master' } as const, plugin: 'limiter', param: 'ceiling_db' };
    expect(getParam(setParam(s.settings, ceiling, -2), ceiling)).toBe(-2);
    const input = { strip: { kind: 'master' } as const, plugin: null, param: 'input_gain_db' };
    expect(getParam(s.settings, input)).toBe(3.88);
    expect(getParam(setParam(s.settings, input, 1), input)).toBe(1);
    expect(findChainEntry(s.settings, { kind: 'master' }, 'eq')).toBe(1);
    expect(findChainEntry(s.settings, { kind: 'master' }, 'polarity')).toBe(-1);
  });

  it('refuses what is not there', () => {
    const s = state();
    expect(() => setParam(s.settings, { strip: { kind: 'stem', index: 0 }, plugin: 'limiter', param: 'ceiling_db' }, 0))
      .toThrow(/stem 1 has no limiter/);
    expect(() => setParam(s.settings, { strip: { kind: 'stem', index: 99 }, plugin: 'gain', param: 'gain_db' }, 0))
      .toThrow(/stem 100 is not in the settings/);
    expect(() => setParam(null, { strip: { kind: 'master' }, plugin: 'gain', param: 'gain_db' }, 0)).toThrow();
  });

  it('edits a target without touching the style object', () => {
    const st = state().style!.raw;
    const before = JSON.stringify(st);
    const next = setTarget(st, 'frequency_balance.low', 0.3);
    expect((next.frequency_balance as Record<string, number>).low).toBe(0.3);
    expect((next.frequency_balance as Record<string, number>).mid).toBe(0.4167);
    expect(setTarget(st, 'lufs', -8).lufs).toBe(-8);
    expect(JSON.stringify(st)).toBe(before);
    expect(Object.keys(next).sort()).toEqual(Object.keys(st).sort());
  });
});

describe('listening', () => {
  it('matches loudness so the louder side is turned down', () => {
    const big = matchedGains(-9.5, -23.1);
    expect(big.a).toBeCloseTo(-13.6, 10);
    expect(big.b).toBe(0);
    const g = matchedGains(-9.5, -9.6);
    expect(g.a).toBeCloseTo(-0.1, 10);
    expect(g.b).toBe(0);
    expect(matchedGains(-12, -12)).toEqual({ a: 0, b: 0 });
    expect(matchedGains(null, -12)).toEqual({ a: 0, b: 0 });
    const h = matchedGains(-20, -14);
    expect(h).toEqual({ a: 0, b: -6 });
  });
  it('versions audio urls', () => {
    expect(withVersion('/a/audio/current?token=t', 8)).toBe('/a/audio/current?token=t&v=8');
    expect(withVersion('/a/audio/current', 'x y')).toBe('/a/audio/current?v=x%20y');
  });
});

describe('state ordering', () => {
  const ev = (o: Record<string, unknown>) => parseEvent(JSON.stringify(o))!;

  it('parses events and drops garbage', () => {
    expect(parseEvent('nope')).toBeNull();
    expect(parseEvent('[1]')).toBeNull();
    expect(ev({ version: 8, status: 'rendering', stage: 'bus' })).toEqual({ version: 8, status: 'rendering', stage: 'bus', optimise: null });
    expect(ev({ status: 'odd' }).status).toBeNull();
  });

  it('fetches on a newer version or another status only', () => {
    const s = state();
    expect(needsFetch(s, ev({ version: 8, status: 'ready' }))).toBe(true);
    expect(needsFetch(s, ev({ version: 7, status: 'ready' }))).toBe(false);
    expect(needsFetch(s, ev({ version: 7, status: 'rendering' }))).toBe(true);
    expect(needsFetch(s, ev({ version: 6, status: 'rendering' }))).toBe(false);
    expect(needsFetch(null, ev({ version: 1 }))).toBe(true);
    // optimiser progress: fetched only when the event has no history and the state lacks the step
    expect(needsFetch(s, ev({ version: 7, status: 'ready', optimise: { running: true, step: 1, steps: 5 } }))).toBe(true);
    expect(needsFetch(s, ev({ version: 7, status: 'ready', optimise: { running: true, step: 1, steps: 5, last: { step: 1, loss: 1 } } }))).toBe(false);
    expect(needsFetch(s, ev({ version: 7, status: 'ready', optimise: { running: true, step: 3, steps: 5, last: { step: 3, loss: 1 } } }))).toBe(true);
    expect(needsFetch(s, ev({ version: 7, status: 'ready', optimise: { running: true, step: 1, steps: 5, history: [{ loss: 1 }] } }))).toBe(false);
    expect(needsFetch(s, ev({ version: 7, status: 'ready', optimise: { running: false, step: 0, steps: 0 } }))).toBe(false);
  });

  it('never goes back to an older state', () => {
    const s7 = state();
    const s8 = state({ version: 8 });
    expect(studioReducer(s8, { type: 'state', state: s7 })).toBe(s8);
    expect(studioReducer(s7, { type: 'state', state: s8 })).toBe(s8);
    expect(studioReducer(null, { type: 'state', state: s7 })).toBe(s7);
    const again = state({ status: 'rendering' });
    expect(studioReducer(s7, { type: 'state', state: again })?.status).toBe('rendering'); // same version, newer answer
  });

  it('marks the numbers stale while a newer state is on its way', () => {
    const s = state();
    expect(isStale(s)).toBe(false);
    const r = studioReducer(s, { type: 'event', event: ev({ version: 8, status: 'rendering', stage: 'strips' }) })!;
    expect(r.status).toBe('rendering');
    expect(r.stage).toBe('strips');
    expect(r.version).toBe(7);
    expect(isStale(r)).toBe(true);
    const r2 = studioReducer(r, { type: 'event', event: ev({ version: 8, status: 'rendering', stage: 'master' }) })!;
    expect(r2.stage).toBe('master');
    // the render landed, the state is fetched: fresh again
    const landed = studioReducer(r2, { type: 'state', state: state({ version: 8 }) })!;
    expect(isStale(landed)).toBe(false);
    // an old event after that changes nothing
    expect(studioReducer(landed, { type: 'event', event: ev({ version: 7, status: 'rendering' }) })).toBe(landed);
    // a ready event of a newer version (the optimiser's step, the monitor): known to be behind, not stale
    const behind = studioReducer(landed, { type: 'event', event: ev({ version: 9, status: 'ready' }) })!;
    expect(behind.status).toBe('ready');
    expect(behind.behind).toBe(true);
    expect(isStale(behind)).toBe(false);
    // the monitor mix renders: the numbers stay
    const mon = studioReducer(landed, { type: 'event', event: ev({ version: 9, status: 'rendering', stage: 'monitor' }) })!;
    expect(mon.status).toBe('rendering');
    expect(isStale(mon)).toBe(false);
    expect(isStale(landed, true)).toBe(true);
    expect(isStale(null)).toBe(true);
  });

  it('follows the optimiser from events', () => {
    const s = state({ optimise: { running: true, step: 2, steps: 20, history: [{ step: 1, loss: 0.8 }, { step: 2, loss: 0.7 }] } });
    const e = ev({ version: 7, status: 'ready', optimise: { running: true, step: 3, steps: 20, history: [{ step: 1, loss: 0.8 }, { step: 2, loss: 0.7 }, { step: 3, loss: 0.6 }] } });
    const n = studioReducer(s, { type: 'event', event: e })!;
    expect(n.optimise.step).toBe(3);
    expect(n.optimise.history.map((h) => h.loss)).toEqual([0.8, 0.7, 0.6]);
    // progress without history keeps the known history
    const p = studioReducer(n, { type: 'event', event: ev({ version: 7, optimise: { running: true, step: 4, steps: 20 } }) })!;
    expect(p.optimise.step).toBe(4);
    expect(p.optimise.history).toHaveLength(3);
    expect(s.optimise.step).toBe(2);
    // the server's events: the newest step as `last`, appended once
    const q = studioReducer(n, { type: 'event', event: ev({ version: 8, optimise: { running: true, step: 4, steps: 20, last: { step: 4, loss: 0.5 } } }) })!;
    expect(q.optimise.history.map((h) => h.loss)).toEqual([0.8, 0.7, 0.6, 0.5]);
    const q2 = studioReducer(q, { type: 'event', event: ev({ version: 8, optimise: { running: true, step: 4, steps: 20, last: { step: 4, loss: 0.5 } } }) })!;
    expect(q2.optimise.history).toHaveLength(4);
    const done = studioReducer(q2, { type: 'event', event: ev({ version: 9, optimise: { running: false, step: 4, steps: 20, result: true, last: { step: 4, loss: 0.5 } } }) })!;
    expect(done.optimise.result).toBe(true);
    expect(done.optimise.history).toHaveLength(4);
    // a new run starts empty
    const fresh = studioReducer(done, { type: 'event', event: ev({ version: 10, optimise: { running: true, step: 0, steps: 5, last: null } }) })!;
    expect(fresh.optimise.history).toEqual([]);
  });
});

describe('labels', () => {
  it('says where the history is', () => {
    expect(historyLabel(3, 4)).toBe('edit 3 of 3');
    expect(historyLabel(1, 4)).toBe('edit 1 of 3');
    expect(historyLabel(0, 1)).toBe('original mix');
    expect(historyLabel(0, 3)).toBe('original mix (2 edits to redo)');
    expect(historyLabel(null, null)).toBe('no history');
  });
  it('describes the monitor and toggles strips', () => {
    expect(monitorLabel([1, 4], [])).toBe('monitor: 2 muted');
    expect(monitorLabel([], [2])).toBe('monitor: 1 soloed');
    expect(monitorLabel([], [])).toBe('');
    expect(toggleIndex([3, 1], 2)).toEqual([1, 2, 3]);
    expect(toggleIndex([1, 2, 3], 2)).toEqual([1, 3]);
  });
  it('turns error answers into a sentence', () => {
    expect(errorSentence({ error: 'gain_db 45 is above 30.', code: 'E_RANGE' }, 400)).toBe('gain_db 45 is above 30. (E_RANGE)');
    expect(errorSentence('x', 500)).toBe('the studio answered HTTP 500');
  });
});

describe('the EQ drag edit', () => {
  it('setParams: several parameters of one plugin in one copy, every other field kept', () => {
    const s = state();
    const strip = { kind: 'stem', index: 0 } as const;
    const next = setParams(s.settings, strip, 'eq', { peak1_hz: 900, peak1_gain_db: -1.5, peak1_q: 2 });
    expect(getParam(next, { strip, plugin: 'eq', param: 'peak1_hz' })).toBe(900);
    expect(getParam(next, { strip, plugin: 'eq', param: 'peak1_gain_db' })).toBe(-1.5);
    expect(getParam(next, { strip, plugin: 'eq', param: 'peak1_q' })).toBe(2);
    expect(getParam(next, { strip, plugin: 'eq', param: 'peak2_hz' })).toBe(5813.8);
    expect(getParam(s.settings, { strip, plugin: 'eq', param: 'peak1_hz' })).toBe(1280.1); // untouched
    const m = setParams(s.settings, { kind: 'master' }, 'eq', { highpass_hz: 30 });
    expect(getParam(m, { strip: { kind: 'master' }, plugin: 'eq', param: 'highpass_hz' })).toBe(30);
    expect(JSON.stringify({ ...m, master: null })).toBe(JSON.stringify({ ...s.settings, master: null }));
    expect(() => setParams(s.settings, { kind: 'stem', index: 99 }, 'eq', {})).toThrow('stem 100 is not in the settings');
    expect(() => setParams(null, strip, 'eq', {})).toThrow();
  });
  it('quantisedChanges: clamped, rounded to the spec decimals, only what changed', () => {
    const specs = state().specs;
    const cur = { peak1_hz: 1280.1, peak1_gain_db: -3.28, peak1_q: 0.605 };
    expect(quantisedChanges(specs, 'eq', cur, { peak1_hz: 1280.1234, peak1_gain_db: -3.2812, peak1_q: 0.6049 })).toEqual({});
    expect(quantisedChanges(specs, 'eq', cur, { peak1_hz: 999.987, peak1_gain_db: -20, peak1_q: 1.23456 }))
      .toEqual({ peak1_hz: 1000, peak1_gain_db: -15, peak1_q: 1.235 });
    expect(quantisedChanges(specs, 'eq', { highpass_hz: null }, { highpass_hz: 41.66 })).toEqual({ highpass_hz: 41.7 });
    expect(quantisedChanges(specs, 'eq', {}, { highpass_hz: Number.NaN })).toEqual({});
  });
});

describe('the user reference', () => {
  it('the request body', () => {
    expect(referenceRequest(' refs/song.wav ')).toEqual({ ok: true, body: { path: 'refs/song.wav' } });
    expect(referenceRequest('./refs\\a b.flac')).toEqual({ ok: true, body: { path: 'refs/a b.flac' } });
    const e = referenceRequest('   ');
    expect(e.ok).toBe(false);
  });
  it('the URL B loads', () => {
    const r = (name: string, label = name, lufs: number | null = -14) => ({ name, label, url: '/b/audio/x', lufs });
    expect(referenceUrl(r('equal'), 4)).toBe('/b/audio/x');
    expect(referenceUrl(r('previous'), 4)).toBe('/b/audio/x?v=4');
    expect(referenceUrl(r('user', 'song.wav'), 4)).toBe('/b/audio/x?v=song.wav%7C-14');
    expect(referenceUrl(r('user', 'song.wav'), 9)).toBe(referenceUrl(r('user', 'song.wav'), 4));
    expect(referenceUrl(r('user', 'other.wav'), 4)).not.toBe(referenceUrl(r('user', 'song.wav'), 4));
  });
  it('a state with a user reference keeps it', () => {
    const audio = { ...(fixture().audio as object), references: [{ name: 'user', label: 'song.wav', url: '/u', lufs: -8.2 }] };
    expect(state({ audio }).audio.references).toEqual([{ name: 'user', label: 'song.wav', url: '/u', lufs: -8.2 }]);
  });
});
