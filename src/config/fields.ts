// Small readers for configuration values. Each reports problems into `issues` with the full
// key path and returns undefined, so one pass collects every error in the file.
import { isIP } from 'node:net';
import type { ListenAddress } from './types.ts';

export interface ConfigIssue { path: string; message: string }
export type Issues = ConfigIssue[];

export const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;

const show = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
};

/** A mapping whose keys must all be in `known`; unknown keys are errors. */
export function mapping(v: unknown, path: string, issues: Issues, known: readonly string[]): Record<string, unknown> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    issues.push({ path: path || '(root)', message: `expected a mapping, got ${show(v)}` });
    return undefined;
  }
  const rec = v as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (!known.includes(key)) issues.push({ path: join(path, key), message: `unknown property '${key}' (known: ${known.join(', ')})` });
  }
  return rec;
}

export function required(rec: Record<string, unknown>, key: string, path: string, issues: Issues): unknown {
  if (rec[key] === undefined || rec[key] === null) {
    issues.push({ path: join(path, key), message: 'is required' });
    return undefined;
  }
  return rec[key];
}

export function str(v: unknown, path: string, issues: Issues, opts: { pattern?: RegExp; what?: string } = {}): string | undefined {
  if (typeof v !== 'string' || v.length === 0) {
    issues.push({ path, message: `expected a non-empty string, got ${show(v)}` });
    return undefined;
  }
  if (opts.pattern && !opts.pattern.test(v)) {
    issues.push({ path, message: `${JSON.stringify(v)} is not ${opts.what ?? `of the form ${opts.pattern}`}` });
    return undefined;
  }
  return v;
}

export function int(v: unknown, path: string, issues: Issues, min: number, max: number): number | undefined {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    issues.push({ path, message: `expected an integer, got ${show(v)}` });
    return undefined;
  }
  if (v < min || v > max) {
    issues.push({ path, message: `${v} is out of range ${min}..${max}` });
    return undefined;
  }
  return v;
}

export function bool(v: unknown, path: string, issues: Issues): boolean | undefined {
  if (typeof v !== 'boolean') {
    issues.push({ path, message: `expected true or false, got ${show(v)}` });
    return undefined;
  }
  return v;
}

export function oneOf<T extends string>(v: unknown, path: string, issues: Issues, values: readonly T[]): T | undefined {
  if (typeof v !== 'string' || !values.includes(v as T)) {
    issues.push({ path, message: `expected one of ${values.join(', ')}, got ${show(v)}` });
    return undefined;
  }
  return v as T;
}

export function list(v: unknown, path: string, issues: Issues, min = 0): unknown[] | undefined {
  if (!Array.isArray(v)) {
    issues.push({ path, message: `expected a list, got ${show(v)}` });
    return undefined;
  }
  if (v.length < min) {
    issues.push({ path, message: `expected at least ${min} item${min === 1 ? '' : 's'}` });
    return undefined;
  }
  return v;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `1s`, `1.5s`, `2m`, `1h` into milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNIT_MS[m[2]]);
}

export function duration(v: unknown, path: string, issues: Issues, minMs: number, maxMs: number): number | undefined {
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined) {
    issues.push({ path, message: `expected a duration such as 500ms, 1s, 2m, got ${show(v)}` });
    return undefined;
  }
  if (ms < minMs || ms > maxMs) {
    issues.push({ path, message: `${v} is out of range ${minMs}ms..${maxMs}ms` });
    return undefined;
  }
  return ms;
}

export function ipAddress(v: unknown, path: string, issues: Issues): string | undefined {
  if (typeof v !== 'string' || isIP(v) === 0) {
    issues.push({ path, message: `expected an IPv4 or IPv6 address, got ${show(v)}` });
    return undefined;
  }
  return v;
}

/** `127.0.0.1:53`, `[::1]:53`. */
export function listenAddress(v: unknown, path: string, issues: Issues): ListenAddress | undefined {
  const m = typeof v === 'string' ? /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(v) : null;
  const host = m ? (m[1] ?? m[2]) : undefined;
  const port = m ? Number(m[3]) : NaN;
  const family = host ? isIP(host) : 0;
  if (!m || !host || family === 0 || (m[1] !== undefined && family !== 6) || port < 1 || port > 65535) {
    issues.push({ path, message: `expected HOST:PORT with an IP literal (127.0.0.1:53 or [::1]:53), got ${show(v)}` });
    return undefined;
  }
  return { host, port, family: family as 4 | 6 };
}

export function httpUrl(v: unknown, path: string, issues: Issues): string | undefined {
  const s = str(v, path, issues);
  if (s === undefined) return undefined;
  let u: URL;
  try { u = new URL(s); } catch {
    issues.push({ path, message: `${JSON.stringify(s)} is not a URL` });
    return undefined;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    issues.push({ path, message: `expected an http:// or https:// URL, got ${JSON.stringify(s)}` });
    return undefined;
  }
  return s;
}

export function stringMap(v: unknown, path: string, issues: Issues): Record<string, string> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    issues.push({ path, message: `expected a mapping of strings, got ${show(v)}` });
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') issues.push({ path: join(path, k), message: `expected a string, got ${show(val)}` });
    else out[k] = val;
  }
  return out;
}

const LABEL = /^(?=.{1,63}$)[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$/;
/** A DNS name: lower-cased, trailing dot removed; undefined (with an issue) when invalid. */
export function dnsName(v: unknown, path: string, issues: Issues): string | undefined {
  const s = str(v, path, issues);
  if (s === undefined) return undefined;
  const name = s.toLowerCase().replace(/\.$/, '');
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => LABEL.test(l))) {
    issues.push({ path, message: `${JSON.stringify(s)} is not a valid DNS name` });
    return undefined;
  }
  return name;
}

export const inZone = (name: string, zone: string): boolean => name === zone || name.endsWith(`.${zone}`);
