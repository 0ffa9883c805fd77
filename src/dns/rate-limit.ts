// Response rate limiting (RRL) for UDP replies, with BIND's accounting: one account per source
// prefix; each reply debits one credit; credits come back at `responsesPerSecond`, up to one
// second's worth; the balance cannot fall below -(responsesPerSecond × window), so a flood stays
// limited for at most `window` after it stops. A limited reply is dropped, except every `slip`-th
// one, which is sent truncated (TC=1) so a real client retries over TCP. The account table has a
// fixed size: the least recently refreshed account makes room, so spoofed sources cannot grow it.
import type { DnsConfig } from '../config/types.ts';

export const VERDICT = { SEND: 0, DROP: 1, SLIP: 2 } as const;
export type Verdict = (typeof VERDICT)[keyof typeof VERDICT];

/** BIND's max-table-size default. */
export const DEFAULT_MAX_ENTRIES = 20_000;
/** An account in use moves to the young end of the table at most this often. */
const REFRESH_MS = 1000;

export interface RateLimiter {
  /** The verdict for one UDP reply to `address` at time `nowMs`. */
  check(address: string, nowMs: number): Verdict;
  /** Accounts held. */
  size(): number;
}

interface Account { balance: number; last: number; refreshed: number; slips: number }

export function createRateLimiter(options: DnsConfig['rateLimit'] & { maxEntries?: number }): RateLimiter {
  const rate = options.responsesPerSecond;
  const perMs = rate / 1000;
  const floor = -rate * (options.window / 1000);
  const slip = options.slip;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const v4 = options.ipv4PrefixLength;
  const v6 = options.ipv6PrefixLength;
  const accounts = new Map<number | string, Account>();
  const groups = new Uint16Array(8);

  return {
    size: () => accounts.size,
    check(address, nowMs) {
      const key = prefixKey(address, v4, v6, groups);
      let a = accounts.get(key);
      if (a === undefined) {
        if (accounts.size >= maxEntries) accounts.delete(accounts.keys().next().value!);
        a = { balance: rate, last: nowMs, refreshed: nowMs, slips: 0 };
        accounts.set(key, a);
      } else {
        const elapsed = nowMs - a.last;
        if (elapsed > 0) {
          const b = a.balance + elapsed * perMs;
          a.balance = b > rate ? rate : b;
          a.last = nowMs;
        }
        if (nowMs - a.refreshed >= REFRESH_MS) {
          accounts.delete(key);
          accounts.set(key, a);
          a.refreshed = nowMs;
        }
      }
      const b = a.balance - 1;
      a.balance = b < floor ? floor : b;
      if (a.balance >= 0) return VERDICT.SEND;
      if (slip > 0 && ++a.slips >= slip) { a.slips = 0; return VERDICT.SLIP; }
      return VERDICT.DROP;
    },
  };
}

/**
 * The account key of an address: IPv4 (also IPv4-mapped IPv6) as the masked 32-bit number, IPv6
 * as the masked groups packed into an 8-character string. Anything unparseable keys as itself.
 */
export function prefixKey(address: string, v4Length: number, v6Length: number, scratch = new Uint16Array(8)): number | string {
  if (address.includes(':')) {
    if ((address.startsWith('::ffff:') || address.startsWith('::FFFF:')) && address.includes('.')) return prefixKey(address.slice(7), v4Length, v6Length, scratch);
    if (!parseIPv6(address, scratch)) return address;
    for (let i = 0; i < 8; i++) {
      const keep = v6Length - i * 16;
      if (keep <= 0) scratch[i] = 0;
      else if (keep < 16) scratch[i] &= (0xffff << (16 - keep)) & 0xffff;
    }
    return String.fromCharCode(scratch[0], scratch[1], scratch[2], scratch[3], scratch[4], scratch[5], scratch[6], scratch[7]);
  }
  let ip = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < address.length; i++) {
    const c = address.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0) return address;
      ip = ip * 256 + octet; octet = 0; digits = 0; dots++;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      octet = octet * 10 + (c - 0x30); digits++;
      if (octet > 255) return address;
    } else {
      return address;
    }
  }
  if (dots !== 3 || digits === 0) return address;
  ip = ip * 256 + octet;
  const mask = v4Length === 0 ? 0 : (0xffffffff << (32 - v4Length)) >>> 0;
  return (ip & mask) >>> 0;
}

const hexValue = (c: number) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);

/** Parses an IPv6 literal (with or without `::`; no zone index, no embedded IPv4) into 8 groups, in one pass. */
function parseIPv6(a: string, out: Uint16Array): boolean {
  let groups = 0;
  let gap = -1;
  let value = 0;
  let digits = 0;
  let prevColon = false;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    if (c === 0x3a) {
      if (prevColon) {
        if (gap !== -1) return false;
        gap = groups;
      } else if (digits > 0) {
        if (groups === 8) return false;
        out[groups++] = value; value = 0; digits = 0;
      } else if (i !== 0 || a.charCodeAt(1) !== 0x3a) {
        return false;
      }
      prevColon = true;
      continue;
    }
    const d = hexValue(c);
    if (d < 0 || digits === 4) return false;
    value = value * 16 + d; digits++; prevColon = false;
  }
  if (digits > 0) {
    if (groups === 8) return false;
    out[groups++] = value;
  } else if (prevColon && gap !== groups) {
    return false;
  }
  if (gap === -1) return groups === 8;
  if (groups > 7) return false;
  const tail = groups - gap;
  for (let k = 0; k < tail; k++) out[7 - k] = out[groups - 1 - k];
  for (let k = gap; k < 8 - tail; k++) out[k] = 0;
  return true;
}
