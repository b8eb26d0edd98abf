/** Links of served pages carry the session token; static pages use relative links as they are. */

/** The `token` query parameter of a location search string ("?token=abc" -> "abc"), null when absent. */
export function tokenFrom(search: string | null | undefined): string | null {
  if (typeof search !== 'string' || search === '') return null;
  const t = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search).get('token');
  return t ? t : null;
}

/** `href` with `token=...` appended when it is a server path (starts with "/") and there is a token. */
export function withToken(href: string, token: string | null): string {
  if (!token || !href.startsWith('/') || href.startsWith('//')) return href;
  const hashAt = href.indexOf('#');
  const base = hashAt >= 0 ? href.slice(0, hashAt) : href;
  const hash = hashAt >= 0 ? href.slice(hashAt) : '';
  const sep = base.includes('?') ? '&' : '?';
  return `${base}${sep}token=${encodeURIComponent(token)}${hash}`;
}

/** The current page's token (browser only; null elsewhere). */
export function currentToken(): string | null {
  return typeof window === 'undefined' ? null : tokenFrom(window.location.search);
}

/** `href` as the app should link it from this page. */
export function link(href: string): string {
  return withToken(href, currentToken());
}
