/** The studio's A/B player on the Web Audio API: two decoded buffers started at the same AudioContext time and
 * offset, each through its own GainNode; switching sides sets both gains at the same `currentTime` (no restart,
 * sample-accurate). The gain of each side is its loudness-match gain (studio.ts `matchedGains`). */
import { dbToGain } from './studio';

export type Side = 'A' | 'B';

/** What the loudness chart's playhead reads. */
export interface Playhead {
  position(): number | null;
  isPlaying(): boolean;
  subscribe(cb: () => void): () => void;
}

type Ctx = AudioContext;

export class AbPlayer implements Playhead {
  private ctx: Ctx | null = null;
  private buffers: Record<Side, AudioBuffer | null> = { A: null, B: null };
  private urls: Record<Side, string | null> = { A: null, B: null };
  private gains: Record<Side, GainNode | null> = { A: null, B: null };
  private sources: Record<Side, AudioBufferSourceNode | null> = { A: null, B: null };
  private matchDb: Record<Side, number> = { A: 0, B: 0 };
  private side: Side = 'A';
  private playing = false;
  private startedAt = 0; // ctx time at which offset `offset` played
  private offset = 0;
  private listeners = new Set<() => void>();
  private loads: Record<Side, number> = { A: 0, B: 0 };

  constructor(private readonly fetchAudio: (url: string) => Promise<ArrayBuffer>) {}

  subscribe(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  private emit(): void {
    for (const cb of this.listeners) cb();
  }

  private context(): Ctx {
    if (!this.ctx) {
      const C = window.AudioContext ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
      if (!C) throw new Error('this browser has no Web Audio API');
      this.ctx = new C();
      for (const s of ['A', 'B'] as const) {
        const g = this.ctx.createGain();
        g.gain.value = 0;
        g.connect(this.ctx.destination);
        this.gains[s] = g;
      }
    }
    return this.ctx;
  }

  loaded(side: Side): boolean {
    return this.buffers[side] !== null;
  }

  url(side: Side): string | null {
    return this.urls[side];
  }

  /** Fetch and decode `url` for a side; when playing, both sides restart together at the current position. */
  async load(side: Side, url: string): Promise<void> {
    const ctx = this.context();
    const ticket = ++this.loads[side];
    this.urls[side] = url;
    const bytes = await this.fetchAudio(url);
    const buf = await ctx.decodeAudioData(bytes);
    if (ticket !== this.loads[side]) return; // a newer load of this side won
    this.buffers[side] = buf;
    if (this.playing) this.startAt(this.position() ?? 0);
    this.emit();
  }

  duration(): number {
    return Math.max(this.buffers.A?.duration ?? 0, this.buffers.B?.duration ?? 0);
  }

  position(): number | null {
    if (!this.buffers.A && !this.buffers.B) return null;
    if (!this.playing || !this.ctx) return this.offset;
    return Math.min(this.duration(), this.offset + Math.max(0, this.ctx.currentTime - this.startedAt));
  }

  isPlaying(): boolean {
    return this.playing;
  }

  currentSide(): Side {
    return this.side;
  }

  private level(side: Side): number {
    return side === this.side ? dbToGain(this.matchDb[side]) : 0;
  }

  private applyGains(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const t = ctx.currentTime;
    for (const s of ['A', 'B'] as const) this.gains[s]?.gain.setValueAtTime(this.level(s), t);
  }

  /** The loudness-match gains in dB. */
  setMatch(aDb: number, bDb: number): void {
    this.matchDb = { A: aDb, B: bDb };
    this.applyGains();
  }

  setSide(side: Side): void {
    this.side = side;
    this.applyGains();
    this.emit();
  }

  private stopSources(): void {
    for (const s of ['A', 'B'] as const) {
      const src = this.sources[s];
      if (src) {
        src.onended = null;
        try {
          src.stop();
        } catch {
          // never started
        }
        src.disconnect();
      }
      this.sources[s] = null;
    }
  }

  /** Both sources from `offset`, started at one context time. */
  private startAt(offset: number): void {
    const ctx = this.context();
    this.stopSources();
    const dur = this.duration();
    const off = Math.max(0, Math.min(offset, Math.max(0, dur - 0.01)));
    const when = ctx.currentTime + 0.03;
    for (const s of ['A', 'B'] as const) {
      const buf = this.buffers[s];
      const g = this.gains[s];
      if (!buf || !g) continue;
      const src = ctx.createBufferSource();
      src.buffer = buf;
      src.connect(g);
      if (off < buf.duration) src.start(when, off);
      this.sources[s] = src;
    }
    const longest = (['A', 'B'] as const).reduce<Side>((a, b) => ((this.buffers[b]?.duration ?? 0) > (this.buffers[a]?.duration ?? 0) ? b : a), 'A');
    const last = this.sources[longest];
    if (last) {
      last.onended = () => {
        if (this.sources[longest] !== last) return;
        this.playing = false;
        this.offset = 0;
        this.stopSources();
        this.emit();
      };
    }
    this.applyGains();
    this.startedAt = when;
    this.offset = off;
    this.playing = true;
  }

  async play(): Promise<void> {
    const ctx = this.context();
    if (ctx.state === 'suspended') await ctx.resume();
    if (!this.buffers.A && !this.buffers.B) return;
    this.startAt(this.offset);
    this.emit();
  }

  pause(): void {
    this.offset = this.position() ?? 0;
    this.playing = false;
    this.stopSources();
    this.emit();
  }

  seek(t: number): void {
    const to = Math.max(0, Math.min(t, this.duration()));
    if (this.playing) this.startAt(to);
    else this.offset = to;
    this.emit();
  }

  close(): void {
    this.stopSources();
    this.playing = false;
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.listeners.clear();
  }
}
