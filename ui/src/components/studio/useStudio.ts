import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import type { ParamRef, StripRef, StudioState } from '../../lib/studio';
import { errorSentence, needsFetch, parseEvent, parseStudioState, setParam, setParams, studioReducer } from '../../lib/studio';
import { currentToken, withToken } from '../../lib/links';

export type Answer = { ok: true; body: unknown } | { ok: false; error: string };

export interface Studio {
  state: StudioState | null;
  /** a state-changing request is in flight (its result is not shown yet) */
  pending: boolean;
  /** the studio cannot be reached (state fetch or event stream) */
  connection: string | null;
  /** POST `B/path` (`body` or a function making it when the request's turn comes); a state-changing one marks the numbers stale until the state after it is fetched */
  post: (path: string, body: unknown, changes?: boolean) => Promise<Answer>;
  /** one parameter edited: POST B/edit with the whole settings (null when taken, else its sentence) */
  edit: (ref: ParamRef, value: number) => Promise<string | null>;
  /** several parameters of one plugin in ONE edit (the EQ drag) */
  editParams: (strip: StripRef, plugin: string, values: Readonly<Record<string, number>>) => Promise<string | null>;
  url: (path: string) => string;
  token: string | null;
  /** the newest state known (also between renders) */
  current: () => StudioState | null;
}

async function readJson(r: Response): Promise<unknown> {
  try {
    return (await r.json()) as unknown;
  } catch {
    return null;
  }
}

/** The studio's state on a served session page: fetched once, then again on every server event announcing a
 * newer version or another status; requests that change it run one at a time, each based on the state the one
 * before it left (two quick edits never lose the first). */
export function useStudio(api: string, initial?: StudioState | null): Studio {
  const token = currentToken();
  const [state, dispatch] = useReducer(studioReducer, initial ?? null);
  const [pendingCount, setPendingCount] = useState(0);
  const [connection, setConnection] = useState<string | null>(null);
  const stateRef = useRef<StudioState | null>(state);
  stateRef.current = state;
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const fetching = useRef<Promise<StudioState | null> | null>(null);
  const again = useRef(false);

  const url = useCallback((path: string) => withToken(`${api}${path}`, token), [api, token]);
  const headers = useCallback((): Record<string, string> => {
    const h: Record<string, string> = { Accept: 'application/json' };
    if (token) h['X-Automix-Token'] = token;
    return h;
  }, [token]);

  /** GET B/state (coalesced: a request while one runs makes one more after it). */
  const refresh = useCallback((): Promise<StudioState | null> => {
    if (fetching.current) {
      again.current = true;
      return fetching.current;
    }
    const run = async (): Promise<StudioState | null> => {
      let last: StudioState | null = null;
      do {
        again.current = false;
        try {
          const r = await fetch(url('/state'), { cache: 'no-store', headers: headers() });
          const body = await readJson(r);
          if (!r.ok) throw new Error(errorSentence(body, r.status));
          const s = parseStudioState(body);
          if (!s) throw new Error('the studio answered with no session state');
          stateRef.current = studioReducer(stateRef.current, { type: 'state', state: s });
          dispatch({ type: 'state', state: s });
          setConnection(null);
          last = s;
        } catch (e) {
          setConnection(`studio unreachable (${e instanceof Error ? e.message : 'network error'})`);
        }
      } while (again.current);
      fetching.current = null;
      return last;
    };
    fetching.current = run();
    return fetching.current;
  }, [url, headers]);

  useEffect(() => {
    if (typeof fetch === 'undefined') return undefined;
    void refresh();
    if (typeof EventSource === 'undefined') return undefined;
    const es = new EventSource(url('/events'));
    es.onopen = () => void refresh(); // also after a reconnect: events may have been missed
    es.onmessage = (m: MessageEvent<string>) => {
      const ev = parseEvent(m.data);
      if (!ev) return;
      const fetchIt = needsFetch(stateRef.current, ev);
      stateRef.current = studioReducer(stateRef.current, { type: 'event', event: ev });
      dispatch({ type: 'event', event: ev });
      if (fetchIt) void refresh();
    };
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) setConnection('live updates stopped; reload the page');
    };
    return () => es.close();
  }, [url, refresh]);

  const post = useCallback(
    (path: string, body: unknown, changes = true): Promise<Answer> => {
      const job = async (): Promise<Answer> => {
        let b: unknown;
        try {
          b = typeof body === 'function' ? (body as () => unknown)() : body;
        } catch (e) {
          return { ok: false, error: e instanceof Error ? e.message : String(e) };
        }
        let answer: Answer;
        try {
          const r = await fetch(url(path), {
            method: 'POST',
            cache: 'no-store',
            headers: { ...headers(), 'Content-Type': 'application/json' },
            body: JSON.stringify(b ?? {}),
          });
          const json = await readJson(r);
          answer = r.ok ? { ok: true, body: json } : { ok: false, error: errorSentence(json, r.status) };
          if (r.ok) {
            const s = parseStudioState(json);
            if (s) {
              stateRef.current = studioReducer(stateRef.current, { type: 'state', state: s });
              dispatch({ type: 'state', state: s });
            } else {
              await refresh();
            }
          }
        } catch (e) {
          answer = { ok: false, error: `the studio could not be reached (${e instanceof Error ? e.message : 'network error'})` };
        }
        return answer;
      };
      if (changes) setPendingCount((n) => n + 1);
      const p = queue.current.then(job, job);
      queue.current = p;
      return p.finally(() => {
        if (changes) setPendingCount((n) => n - 1);
      });
    },
    [url, headers, refresh],
  );

  const edit = useCallback(
    async (ref: ParamRef, value: number): Promise<string | null> => {
      // the settings are read when the request's turn comes, so they hold every edit queued before it
      const a = await post('/edit', () => ({ settings: setParam(stateRef.current?.settings, ref, value) }));
      return a.ok ? null : a.error;
    },
    [post],
  );

  const editParams = useCallback(
    async (strip: StripRef, plugin: string, values: Readonly<Record<string, number>>): Promise<string | null> => {
      const a = await post('/edit', () => ({ settings: setParams(stateRef.current?.settings, strip, plugin, values) }));
      return a.ok ? null : a.error;
    },
    [post],
  );

  const current = useCallback(() => stateRef.current, []);
  return { state, pending: pendingCount > 0, connection, post, edit, editParams, url, token, current };
}
