// zone.records: static records served as they are beside the failover hostnames (mail, site
// verification, service records, delegations of subzones with their glue). Validated so that the
// zone stays a zone: names inside it, a CNAME alone at its name, nothing at a failover hostname,
// delegations with the glue they need and no data below them but that glue.
import { isIPv4, isIPv6 } from 'node:net';
import * as s from '../config/schema.ts';
import { dnsName, inZone, int, join, list, mapping, required, str, type Issues } from '../config/fields.ts';

export type StaticRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'SRV' | 'CAA' | 'NS';
/** One resource record of zone.records, served as it is. NS below the apex is a delegation. */
export type StaticRecord = { name: string; ttl: number } & (
  | { type: 'A' | 'AAAA'; address: string }
  | { type: 'CNAME' | 'NS'; target: string }
  | { type: 'MX'; preference: number; exchange: string }
  | { type: 'TXT'; strings: string[] }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'CAA'; flags: number; tag: string; value: string }
);

export const STATIC_RECORD_TYPES: readonly StaticRecordType[] = ['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'SRV', 'CAA', 'NS'];
/** TTL of a static record without its own: they do not move on failover. */
export const STATIC_RECORD_TTL = 3600;
const CAA_TAG_SOURCE = '^[a-zA-Z0-9]{1,15}$';
/** A regular expression for `t` in any case (JSON Schema patterns have no flags). */
const anyCase = (t: string) => [...t].map((c) => `[${c}${c.toLowerCase()}]`).join('');
const u16 = { type: 'integer', minimum: 0, maximum: 65535 };
const name = { type: 'string', minLength: 1 };
const VALUE_SCHEMAS: Record<StaticRecordType, Record<string, unknown>> = {
  A: { type: 'string', format: 'ipv4' },
  AAAA: { type: 'string', format: 'ipv6' },
  CNAME: name,
  NS: name,
  MX: { type: 'object', properties: { preference: u16, exchange: name }, required: ['preference', 'exchange'], additionalProperties: false },
  TXT: { anyOf: [{ type: 'string', maxLength: 255 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }] },
  SRV: { type: 'object', properties: { priority: u16, weight: u16, port: u16, target: name }, required: ['priority', 'weight', 'port', 'target'], additionalProperties: false },
  CAA: { type: 'object', properties: { flags: { type: 'integer', minimum: 0, maximum: 255 }, tag: { type: 'string', pattern: CAA_TAG_SOURCE }, value: { type: 'string', minLength: 1 } }, required: ['tag', 'value'], additionalProperties: false },
};

/**
 * `zone.records` in the schema: read later by readZoneRecords (it needs the zone's name), so the
 * node's reader passes the list through.
 */
export const zoneRecordsSchema = s.custom<unknown>({
  type: 'array',
  items: {
    type: 'object',
    properties: {
      name: { ...name, description: 'the owner name, written in full (`example.com` for the apex, `www.example.com`)' },
      type: { type: 'string', pattern: `^(${STATIC_RECORD_TYPES.map(anyCase).join('|')})$`, description: '`NS` below the apex delegates that name to other name servers' },
      value: { description: 'depends on `type`' },
      ttl: { type: 'integer', minimum: 0, maximum: 2 ** 31 - 1, default: 3600, description: "the record's TTL; static records do not move on failover" },
    },
    required: ['name', 'type', 'value'],
    additionalProperties: false,
    allOf: STATIC_RECORD_TYPES.map((t) => ({ if: { properties: { type: { pattern: `^${anyCase(t)}$` } } }, then: { properties: { value: VALUE_SCHEMAS[t] } } })),
  },
}, (v) => v, { type: 'list', description: 'static records served as they are beside the failover hostnames (mail, verification, service records, delegations). One resource record per item; see [Static records](#static-records) and [docs/dns.md](dns.md)' });

type RecordValue = StaticRecord extends infer R ? (R extends unknown ? Omit<R, 'name' | 'ttl'> : never) : never;
const CAA_TAG = new RegExp(CAA_TAG_SOURCE);

function readValue(type: StaticRecordType, v: unknown, p: string, issues: Issues): RecordValue | undefined {
  switch (type) {
    case 'A': case 'AAAA': {
      const s = str(v, p, issues);
      if (s === undefined) return undefined;
      if (type === 'A' ? !isIPv4(s) : !isIPv6(s)) { issues.push({ path: p, message: `${JSON.stringify(s)} is not an ${type === 'A' ? 'IPv4' : 'IPv6'} address` }); return undefined; }
      return { type, address: s };
    }
    case 'CNAME': case 'NS': {
      const target = dnsName(v, p, issues);
      return target === undefined ? undefined : { type, target };
    }
    case 'MX': {
      const r = mapping(v, p, issues, ['preference', 'exchange']);
      if (!r) return undefined;
      const preference = int(required(r, 'preference', p, issues), join(p, 'preference'), issues, 0, 65535);
      const exchange = dnsName(required(r, 'exchange', p, issues), join(p, 'exchange'), issues);
      return preference === undefined || exchange === undefined ? undefined : { type, preference, exchange };
    }
    case 'TXT': {
      const items = typeof v === 'string' ? [v] : list(v, p, issues, 1);
      if (!items) return undefined;
      const strings: string[] = [];
      items.forEach((item, i) => {
        const ip = typeof v === 'string' ? p : join(p, i);
        const s = str(item, ip, issues);
        if (s === undefined) return;
        if (Buffer.byteLength(s) > 255) issues.push({ path: ip, message: `is ${Buffer.byteLength(s)} bytes; a TXT string holds at most 255: split it into a list of strings` });
        else strings.push(s);
      });
      return strings.length === items.length ? { type, strings } : undefined;
    }
    case 'SRV': {
      const r = mapping(v, p, issues, ['priority', 'weight', 'port', 'target']);
      if (!r) return undefined;
      const priority = int(required(r, 'priority', p, issues), join(p, 'priority'), issues, 0, 65535);
      const weight = int(required(r, 'weight', p, issues), join(p, 'weight'), issues, 0, 65535);
      const port = int(required(r, 'port', p, issues), join(p, 'port'), issues, 0, 65535);
      const target = v !== null && typeof v === 'object' && (v as Record<string, unknown>).target === '.' ? '' : dnsName(required(r, 'target', p, issues), join(p, 'target'), issues);
      return priority === undefined || weight === undefined || port === undefined || target === undefined ? undefined : { type, priority, weight, port, target };
    }
    case 'CAA': {
      const r = mapping(v, p, issues, ['flags', 'tag', 'value']);
      if (!r) return undefined;
      const flags = r.flags === undefined ? 0 : int(r.flags, join(p, 'flags'), issues, 0, 255);
      const tag = str(required(r, 'tag', p, issues), join(p, 'tag'), issues, { pattern: CAA_TAG, what: 'a CAA tag such as issue, issuewild or iodef' });
      const value = str(required(r, 'value', p, issues), join(p, 'value'), issues);
      return flags === undefined || tag === undefined || value === undefined ? undefined : { type, flags, tag: tag.toLowerCase(), value };
    }
  }
}

/**
 * Reads `zone.records` (one resource record per item: `{ name, type, value, ttl? }`); names must
 * be inside `zone`. Items with errors are left out (their issues recorded); `paths` receives the
 * key path of each record returned, for checkZoneRecords.
 */
export function readZoneRecords(v: unknown, zone: string | undefined, issues: Issues, paths: string[]): StaticRecord[] | undefined {
  if (v === undefined) return [];
  const items = list(v, 'zone.records', issues);
  if (!items) return undefined;
  const out: StaticRecord[] = [];
  items.forEach((item, i) => {
    const p = join('zone.records', i);
    const r = mapping(item, p, issues, ['name', 'type', 'value', 'ttl']);
    if (!r) return;
    const name = dnsName(required(r, 'name', p, issues), join(p, 'name'), issues);
    const typeRaw = str(required(r, 'type', p, issues), join(p, 'type'), issues);
    const type = typeRaw === undefined ? undefined : STATIC_RECORD_TYPES.find((t) => t === typeRaw.toUpperCase());
    if (typeRaw !== undefined && type === undefined) issues.push({ path: join(p, 'type'), message: `${JSON.stringify(typeRaw)} is not one of ${STATIC_RECORD_TYPES.join(', ')}` });
    const ttl = r.ttl === undefined ? STATIC_RECORD_TTL : int(r.ttl, join(p, 'ttl'), issues, 0, 2 ** 31 - 1);
    const value = type === undefined ? undefined : readValue(type, required(r, 'value', p, issues), join(p, 'value'), issues);
    if (name !== undefined && zone !== undefined && !inZone(name, zone)) { issues.push({ path: join(p, 'name'), message: `${name} is not inside zone ${zone}` }); return; }
    if (name === undefined || ttl === undefined || value === undefined) return;
    out.push({ name, ttl, ...value } as StaticRecord);
    paths.push(p);
  });
  return out;
}

/**
 * Checks between records and the rest of the zone: the apex NS come from zone.nameservers; no
 * record at a failover hostname or at an in-zone nameserver's glue; a CNAME alone at its name
 * (and never at the apex); below a delegation only the glue addresses of its own name servers,
 * and every in-zone name server of a delegation has glue. `paths[i]` is the path of `records[i]`.
 */
export function checkZoneRecords(records: readonly StaticRecord[], paths: readonly string[], zone: { name: string; nameservers: ReadonlyArray<{ name: string; address: string | undefined }> }, hostnames: readonly string[], issues: Issues): void {
  const at = (i: number) => paths[i];
  const cuts = [...new Set(records.filter((r) => r.type === 'NS' && r.name !== zone.name).map((r) => r.name))];
  const cutOf = (name: string) => cuts.find((c) => inZone(name, c));
  const glueNames = new Set(zone.nameservers.filter((ns) => ns.address !== undefined && inZone(ns.name, zone.name)).map((ns) => ns.name));
  records.forEach((r, i) => {
    if (hostnames.includes(r.name)) issues.push({ path: join(at(i), 'name'), message: `${r.name} is a failover hostname: its answers follow the active cluster; remove this record` });
    if (r.type === 'NS' && r.name === zone.name) issues.push({ path: join(at(i), 'name'), message: `the zone's own NS records come from zone.nameservers; an NS record here must delegate a name below ${zone.name}` });
    if (glueNames.has(r.name) && (r.type === 'A' || r.type === 'AAAA' || r.type === 'CNAME')) issues.push({ path: join(at(i), 'name'), message: `${r.name} gets its address from zone.nameservers; do not repeat it here` });
    if (r.type === 'CNAME') {
      if (r.name === zone.name) issues.push({ path: join(at(i), 'name'), message: 'a CNAME cannot be at the zone apex (it holds SOA and NS)' });
      const others = records.filter((x, j) => j !== i && x.name === r.name);
      if (others.length > 0) issues.push({ path: at(i), message: `a CNAME must be the only record at ${r.name}, which also has ${[...new Set(others.map((x) => x.type))].join(', ')}` });
      if (glueNames.has(r.name) || zone.nameservers.some((ns) => ns.name === r.name)) issues.push({ path: at(i), message: `${r.name} is a name server of the zone; it cannot be a CNAME` });
    }
    const cut = cutOf(r.name);
    if (cut !== undefined && !(r.type === 'NS' && r.name === cut)) {
      const glue = (r.type === 'A' || r.type === 'AAAA') && records.some((x) => x.type === 'NS' && x.name === cut && x.target === r.name);
      if (!glue) issues.push({ path: at(i), message: `${r.name} is inside the delegated zone ${cut}: only the glue addresses of ${cut}'s own name servers may be here; the rest belongs in ${cut}'s zone` });
    }
  });
  const apexOwners = new Set(hostnames);
  for (const cut of cuts) {
    if (apexOwners.has(cut) || [...apexOwners].some((h) => inZone(h, cut))) issues.push({ path: 'zone.records', message: `the delegation of ${cut} would hide failover hostname(s) below it` });
    records.forEach((r, i) => {
      if (r.type !== 'NS' || r.name !== cut || !inZone(r.target, cut)) return;
      if (!records.some((x) => (x.type === 'A' || x.type === 'AAAA') && x.name === r.target)) issues.push({ path: join(at(i), 'value'), message: `${r.target} is inside the delegated zone ${cut} and needs glue: add an A or AAAA record for it` });
    });
  }
}
