// The request-target check that keeps the proxy from being an open proxy (RFC 9112 §3.2):
// origin-form ("/path") is forwarded as is; absolute-form ("http://host/path") only when the
// host is one this proxy serves, and then as origin-form with Host set from the target;
// authority-form (CONNECT) and asterisk-form are never forwarded.
import type { ProxyErrorCode } from './replies.ts';

export type Target =
  | { ok: true; path: string; authority: string }
  | { ok: false; code: ProxyErrorCode };

const ABSOLUTE = /^https?:\/\/([^/?#]*)([^#]*)/i;

/** Host part of an authority, lower-cased, without port, brackets or a trailing dot. */
export function authorityHost(authority: string): string {
  let host = authority;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    host = end === -1 ? host : host.slice(1, end);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  host = host.toLowerCase();
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** Decides what to do with a request-target that does not start with '/'. */
export function parseTarget(url: string, hostnames: ReadonlySet<string>): Target {
  const m = ABSOLUTE.exec(url);
  if (m === null) return { ok: false, code: 'SWY_PROXY_BAD_REQUEST' };
  const authority = m[1];
  if (authority === '' || authority.includes('@')) return { ok: false, code: 'SWY_PROXY_BAD_REQUEST' };
  if (!hostnames.has(authorityHost(authority))) return { ok: false, code: 'SWY_PROXY_MISDIRECTED' };
  const rest = m[2];
  return { ok: true, path: rest === '' ? '/' : rest.startsWith('?') ? `/${rest}` : rest, authority };
}
