// Defences of the admin API against the operator's own browser (cross-site requests, DNS
// rebinding) and against token guessing. Pure functions of the request's headers, unit-tested
// directly; server.ts applies them.
import { crypto } from '../node-builtins.ts';
import { isIP } from 'node:net';

const { createHash, timingSafeEqual } = crypto;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/**
 * Whether `Authorization: Bearer <t>` carries `token`. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or content of the guess.
 */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  const given = digest(m === null ? '' : m[1]);
  return timingSafeEqual(given, digest(token)) && m !== null;
}

/** The host part of a Host header or an Origin's authority, lower-cased, brackets and port removed; '' when malformed. */
export function hostOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith('[')) {
    const end = a.indexOf(']');
    return end > 0 && (end === a.length - 1 || /^:\d{1,5}$/.test(a.slice(end + 1))) ? a.slice(1, end) : '';
  }
  const m = /^([a-z0-9.\-_]+)(?::\d{1,5})?$/.exec(a);
  return m === null ? '' : m[1].replace(/\.$/, '');
}

/**
 * DNS rebinding: a page on evil.example whose name was re-pointed at 127.0.0.1 reaches the admin
 * API as same-origin, but its requests still say `Host: evil.example`. Accepted: an IP literal
 * (a rebinding attack needs a name), `localhost`, and the names in `allowedHosts`.
 */
export function hostAllowed(hostHeader: string | undefined, allowedHosts: ReadonlySet<string>): boolean {
  if (hostHeader === undefined) return false;
  const host = hostOf(hostHeader);
  if (host === '') return false;
  return isIP(host) !== 0 || host === 'localhost' || allowedHosts.has(host);
}

/**
 * Why a mutating request looks like it came from another site's page, or undefined when it does
 * not. Browsers send Sec-Fetch-Site (same-origin, same-site, cross-site, none) and Origin on
 * every POST; clients that are not browsers (the CLI, curl) send neither.
 */
export function crossSiteReason(headers: { origin?: string; 'sec-fetch-site'?: string; host?: string }): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site: ${site}`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'Origin: null';
  const m = /^https?:\/\/([^/]+)$/i.exec(origin);
  if (m === null || headers.host === undefined || m[1].toLowerCase() !== headers.host.trim().toLowerCase()) return `Origin ${origin} is not this admin API`;
  return undefined;
}

/** application/json, with or without parameters (charset). */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const semi = value.indexOf(';');
  return (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase() === 'application/json';
}
