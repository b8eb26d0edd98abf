import { describe, expect, it } from 'vitest';
import { param, parsePage, parsePageText, type BatchPage, type SessionPage } from './page';
import { FIXTURE_NAMES, loadFixture } from './fixtures';

describe('parsePage with the fixtures', () => {
  it.each(FIXTURE_NAMES)('accepts %s', (name) => {
    const raw = loadFixture(name) as { kind: string };
    const page = parsePage(raw);
    expect(page.kind).toBe(raw.kind);
    expect(Array.isArray(page.problems)).toBe(true);
  });

  it('reads which passes of the master loop were search passes', () => {
    const raw = loadFixture('session') as { report: { master: { iterations: Record<string, unknown>[] } } };
    const copy = JSON.parse(JSON.stringify(raw)) as typeof raw;
    copy.report.master.iterations[0] = { ...copy.report.master.iterations[0], final: false, segments_true_peak_dbtp: -0.96 };
    copy.report.master.iterations[1] = { ...copy.report.master.iterations[1], final: true, segments_true_peak_dbtp: null };
    const its = (parsePage(copy) as SessionPage).report!.master!.iterations;
    expect(its[0]?.final).toBe(false);
    expect(its[0]?.segments_true_peak_dbtp).toBe(-0.96);
    expect(its[1]?.final).toBe(true);
    expect(its[1]?.segments_true_peak_dbtp).toBeNull();
    expect(its[2]?.final).toBeNull(); // a report from before the flag
  });

  it('reads a session: targets, stems, views', () => {
    const p = parsePage(loadFixture('session')) as SessionPage;
    expect(p.status).toBe('ok');
    const r = p.report!;
    expect(r.automix_version).toBe('0.1.0');
    expect(r.targets.integrated_lufs?.target).toBe(-9.5);
    expect(r.targets.integrated_lufs?.hard).toBe(true);
    expect(r.targets.true_peak_dbtp?.ceiling).toBe(-1);
    expect(r.targets.spectral_centroid_hz?.tolerance_rel).toBe(0.1);
    expect(r.targets.ms_ratio?.pass).toBe(false);
    expect(r.targets.ms_ratio?.why).toMatch(/M\/S/);
    expect(r.targets.band_balance?.final.low).toBe(0.2479);
    expect(r.stems).toHaveLength(8);
    expect(r.stems[0]?.moves.pan).toBe('C');
    expect(r.stems[0]?.envelope_limits_hit[0]?.state).toBe('at');
    expect(r.master?.iterations).toHaveLength(3);
    expect(r.master?.iterations[0]?.true_peak_dbtp).toBeNull();
    expect(r.master?.mono_folddown_loss_db).toBe(0.24);
    expect(p.settings?.stems[0]?.chain.map((c) => c.plugin)).toEqual(['eq', 'compressor', 'saturation', 'gain', 'pan', 'stereo_width']);
    expect(param(p.settings?.stems[0]?.chain, 'compressor', 'ratio')).toBe(6);
    expect(param(p.settings?.stems[0]?.chain, 'limiter', 'ceiling_db')).toBeNull();
    const v = p.views!;
    expect(v.loudness.master?.step_s).toBe(0.1);
    expect(v.loudness.true_peak_overs_s).toEqual([]);
    expect(v.spectrum?.centres_hz.length).toBe(v.spectrum?.master.length);
    expect(v.stereo.master?.edges_hz).toEqual([120, 500, 2000, 8000]);
    expect(v.eq_curves?.stems).toHaveLength(8);
    expect(p.links.audio).toBe('mix.wav');
    expect(p.bands.mid).toEqual([250, 4000]);
  });

  it('reads a failed session without a report', () => {
    const p = parsePage(loadFixture('failed-session')) as SessionPage;
    expect(p.report).toBeNull();
    expect(p.settings).toBeNull();
    expect(p.views).toBeNull();
    expect(p.code).toBe('E_UNREADABLE');
    expect(p.batch?.style).toBe('rock_punk');
    expect(p.links.dashboard).toBe('../index.html');
  });

  it('reads a batch', () => {
    const p = parsePage(loadFixture('batch')) as BatchPage;
    expect(p.running).toBe(false);
    expect(p.total).toBe(4);
    expect(p.rows).toHaveLength(4);
    expect(p.rows[0]?.targets).toBeNull();
    expect(p.rows[1]?.targets?.band_balance?.error).toBe(0.1598);
    expect(p.rows[1]?.soft_missed).toEqual(['ms_ratio', 'band_balance']);
    expect(p.counts).toEqual({ failed: 1, ok: 3 });
    expect(p.live).toBeNull();
    expect(p.run.jobs).toBe(2);
  });

  it('reads the live API of a served batch', () => {
    const raw = { ...(loadFixture('batch') as object), running: true, live: { api: '/api/page/x' } };
    const p = parsePage(raw) as BatchPage;
    expect(p.live).toEqual({ api: '/api/page/x' });
    expect(p.running).toBe(true);
  });
});

describe('parsePage with stripped or garbage data', () => {
  it.each([null, undefined, 42, 'text', [], [1, 2]])('turns %j into an error page', (raw) => {
    const p = parsePage(raw);
    expect(p.kind).toBe('error');
    expect(p.problems.length).toBeGreaterThan(0);
  });

  it('an unknown kind is an error page that says so', () => {
    const p = parsePage({ kind: 'mystery', problems: ['first'] });
    expect(p.kind).toBe('error');
    expect(p.problems[0]).toBe('first');
    expect(p.problems[1]).toMatch(/unknown page kind/);
  });

  it('a bare session gets safe defaults', () => {
    const p = parsePage({ kind: 'session' }) as SessionPage;
    expect(p.title).toBe('automix');
    expect(p.report).toBeNull();
    expect(p.problems).toEqual([]);
    expect(p.links).toEqual({ audio: null, report: null, settings: null, views: null, dashboard: null, exports: [] });
    expect(p.bands.low).toEqual([null, 250]);
  });

  it('reads an album batch and drops tracks without a session', () => {
    const p = parsePage({
      kind: 'batch',
      album: {
        style: 'rock_punk', anchor_lufs: -9.5, centroid_sd_hz: 120, ms_sd: 0.02, max_offset_error_lu: 0.04,
        tracks: [
          { session: 'a', natural_lufs: -12.6, offset_lu: 0, target_lufs: -9.5, landed_offset_lu: 0,
            offset_error_lu: 0, final: { integrated_lufs: -9.52, spectral_centroid_hz: 2700, ms_ratio: 0.5 } },
          { session: 'b', offset_lu: -1.8, final: null },
          { offset_lu: 3 },
        ],
      },
    });
    if (p.kind !== 'batch') throw new Error('not a batch');
    expect(p.album?.tracks.map((t) => t.session)).toEqual(['a', 'b']);
    expect(p.album?.tracks[0]?.final?.integrated_lufs).toBe(-9.52);
    expect(p.album?.tracks[0]?.final?.loudness_range_lu).toBeNull();
    expect(p.album?.tracks[1]?.final).toBeNull();
    expect(parsePage({ kind: 'batch' }).kind === 'batch' && (parsePage({ kind: 'batch' }) as { album: unknown }).album)
      .toBeNull();
  });

  it('keeps the export links that name a kind and a target, and drops the rest', () => {
    const p = parsePage({
      kind: 'session',
      links: {
        exports: [
          { kind: 'dawproject', label: 'DAWproject', href: 's.dawproject' },
          { kind: 'csv', href: 'settings.csv' },
          { kind: 'reaper' },
          'junk',
        ],
      },
    }) as SessionPage;
    expect(p.links.exports).toEqual([
      { kind: 'dawproject', label: 'DAWproject', href: 's.dawproject' },
      { kind: 'csv', label: 'csv', href: 'settings.csv' },
    ]);
  });

  it('a session with garbage inside keeps what it can', () => {
    const p = parsePage({
      kind: 'session',
      title: 7,
      problems: ['ok', 3, null],
      report: { targets: { integrated_lufs: 'x', ms_ratio: { final: 'NaN', pass: 'yes' } }, stems: [null, 5, {}],
        master: { iterations: [null, { lufs: -9 }] }, warnings: 'not a list' },
      settings: { stems: 'x', master: 3 },
      views: { loudness: { master: { step_s: -1, momentary_lufs: [1, 'a', null] } }, spectrum: [], eq_curves: { stems: [1] } },
      bands: { low: [1] },
    }) as SessionPage;
    expect(p.title).toBe('automix');
    expect(p.problems).toEqual(['ok', '3']);
    const r = p.report!;
    expect(r.targets.integrated_lufs).toBeNull();
    expect(r.targets.ms_ratio?.final).toBeNull();
    expect(r.targets.ms_ratio?.pass).toBeNull();
    expect(r.stems).toHaveLength(3);
    expect(r.stems[1]?.envelope_limits_hit).toEqual([]);
    expect(r.master?.iterations).toHaveLength(1);
    expect(r.warnings).toEqual([]);
    expect(p.settings?.stems).toEqual([]);
    expect(p.settings?.master).toBeNull();
    expect(p.views?.loudness.master?.step_s).toBe(0.1);
    expect(p.views?.loudness.master?.momentary_lufs).toEqual([1, null, null]);
    expect(p.views?.loudness.true_peak_overs_s).toBeNull();
    expect(p.views?.spectrum).toBeNull();
    expect(p.views?.eq_curves?.stems[0]).toEqual({ path: null, db: [] });
    expect(p.bands.low).toEqual([null, 250]);
  });

  it('a bare batch gets safe defaults', () => {
    const p = parsePage({ kind: 'batch', rows: [null, { status: 3 }], counts: { ok: 'x', failed: 2 }, live: { api: 5 } }) as BatchPage;
    expect(p.running).toBe(false);
    expect(p.total).toBeNull();
    expect(p.rows.map((r) => r.session)).toEqual(['#1', '#2']);
    expect(p.rows[1]?.status).toBe('unknown');
    expect(p.counts).toEqual({ failed: 2 });
    expect(p.live).toBeNull();
    expect(p.run.style).toBeNull();
  });

  it('parsePageText handles missing, empty and invalid JSON', () => {
    expect(parsePageText(null).kind).toBe('error');
    expect(parsePageText('   ').kind).toBe('error');
    expect(parsePageText('{"kind": "session", "tit').problems[0]).toMatch(/not valid JSON/);
    expect(parsePageText('{"kind":"batch"}').kind).toBe('batch');
  });
});
