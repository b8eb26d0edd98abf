import { describe, expect, it } from 'vitest';
import { tokenFrom, withToken } from './links';

describe('links', () => {
  it('reads the token from a search string', () => {
    expect(tokenFrom('?token=abc')).toBe('abc');
    expect(tokenFrom('?a=1&token=x%2By')).toBe('x+y');
    expect(tokenFrom('?a=1')).toBeNull();
    expect(tokenFrom('')).toBeNull();
    expect(tokenFrom(null)).toBeNull();
  });
  it('appends the token to server paths only', () => {
    expect(withToken('/api/page/x', 'abc')).toBe('/api/page/x?token=abc');
    expect(withToken('/s/a.html?x=1', 'abc')).toBe('/s/a.html?x=1&token=abc');
    expect(withToken('/s/a.html#top', 'a b')).toBe('/s/a.html?token=a%20b#top');
    expect(withToken('mix.wav', 'abc')).toBe('mix.wav');
    expect(withToken('../index.html', 'abc')).toBe('../index.html');
    expect(withToken('//evil.example/x', 'abc')).toBe('//evil.example/x');
    expect(withToken('/api/page/x', null)).toBe('/api/page/x');
  });
});
