import { useEffect, useState } from 'react';
import type { Page } from './lib/page';
import { parsePage } from './lib/page';
import { currentToken, withToken } from './lib/links';
import { Problems } from './components/common';
import { SessionView } from './components/session/SessionView';
import { BatchView } from './components/BatchView';
import { StudioApp } from './components/studio/Studio';

export const POLL_MS = 2000;

/** Served batch pages: while the batch runs, poll the live API every 2 s and take its answer as the page. */
function useLivePage(initial: Page): [Page, string | null] {
  const [page, setPage] = useState<Page>(initial);
  const [error, setError] = useState<string | null>(null);
  const api = page.kind === 'batch' && page.running ? page.live?.api ?? null : null;
  useEffect(() => {
    if (!api || typeof fetch === 'undefined') return undefined;
    let stopped = false;
    const timer = window.setTimeout(() => {
      fetch(withToken(api, currentToken()), { cache: 'no-store', headers: { Accept: 'application/json' } })
        .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
        .then((json: unknown) => {
          if (stopped) return;
          const next = parsePage(json);
          setError(null);
          setPage(next.kind === 'error' ? { ...page } : next); // a garbage answer: keep the page, poll again
        })
        .catch((e: unknown) => {
          if (stopped) return;
          setError(`live update failed (${e instanceof Error ? e.message : 'network error'}); retrying`);
          setPage((p) => ({ ...p })); // re-arm the timer
        });
    }, POLL_MS);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [api, page]);
  return [page, error];
}

export function App({ initial }: { initial: Page }): JSX.Element {
  const [page, liveError] = useLivePage(initial);
  useEffect(() => {
    document.title = page.kind === 'error' ? 'automix' : `${page.title} · automix`;
  }, [page]);
  return (
    <>
      {liveError ? <div className="live-error">{liveError}</div> : null}
      {page.kind === 'session' ? (
        page.studio ? <StudioApp page={page} /> : <SessionView page={page} />
      ) : page.kind === 'batch' ? (
        <BatchView page={page} />
      ) : (
        <div className="page error-page">
          <header className="page-head">
            <div className="title-row">
              <h1>{page.title}</h1>
            </div>
          </header>
          <Problems problems={page.problems} />
        </div>
      )}
    </>
  );
}
