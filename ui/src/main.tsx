import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './App';
import type { Page } from './lib/page';
import { parsePage, parsePageText } from './lib/page';

function mount(page: Page): void {
  let root = document.getElementById('root');
  if (!root) {
    root = document.createElement('div');
    root.id = 'root';
    document.body.appendChild(root);
  }
  createRoot(root).render(
    <StrictMode>
      <App initial={page} />
    </StrictMode>,
  );
}

// an inline icon, so the browser does not ask the server (or the disk) for /favicon.ico
if (!document.querySelector('link[rel~="icon"]')) {
  const icon = document.createElement('link');
  icon.rel = 'icon';
  icon.href =
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%2314161a'/%3E%3Cpath d='M3 11V7M6 11V4M9 11V6M12 11V8' stroke='%23e3b341' stroke-width='2'/%3E%3C/svg%3E";
  document.head.appendChild(icon);
}

const embedded = document.getElementById('automix-page');
if (embedded) {
  mount(parsePageText(embedded.textContent));
} else if (import.meta.env.DEV) {
  // dev server only (index.html): ?fixture=session|batch|batch-session|failed-session|error
  const name = new URLSearchParams(window.location.search).get('fixture') ?? 'session';
  fetch(`/fixtures/${encodeURIComponent(name)}.json`)
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`no fixture ${name} (HTTP ${r.status})`))))
    .then((json: unknown) => mount(parsePage(json)))
    .catch((e: unknown) =>
      mount({ kind: 'error', title: 'automix (dev)', problems: [e instanceof Error ? e.message : String(e)] }),
    );
} else {
  mount(parsePageText(null));
}
