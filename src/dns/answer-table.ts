// The answer table: every reply the server can give, built ahead of time (with dns2) from the
// zone configuration and the active cluster, keyed by lower-cased wire name and query type.
// A routing change builds a new table; the server swaps it in with one assignment.
import type { FailoverStateName } from '../routing/types.ts';
import { answerTtl } from './ttl.ts';
import { isIPv4, isIPv6 } from 'node:net';
import type { ClusterConfig, ZoneConfig } from '../config/types.ts';
import { SwitchyardError } from '../errors.ts';
import { CLASS_IN, HEADER_SIZE, RCODE, TYPE, encodeName, inZone, type Query, type Template } from './wire.ts';
import { requirePackage } from '../packages.ts';

const { Packet } = requirePackage('dns2') as typeof import('dns2');
import { RR_TYPE, buildStaticZone, type Referral } from './static-records.ts';

/** TTL of the zone's own records (SOA, NS, nameserver addresses): they do not move on failover. */
export const INFRASTRUCTURE_TTL = 3600;

export interface NameEntry {
  readonly types: ReadonlyMap<number, Template>;
  /** NODATA: every type not in `types`. */
  readonly other: Template;
}

export interface AnswerTable {
  readonly generation: number;
  readonly active: string;
  /** Key: the lower-cased wire name as a latin1 string. */
  readonly names: ReadonlyMap<string, NameEntry>;
  readonly zone: Buffer;
  readonly nxdomain: Template;
  /** Delegations below the apex (zone.records NS): a name at or below one gets its referral; DS at the cut is NODATA. */
  readonly referrals: ReadonlyArray<Referral & { readonly ds: Template }>;
  readonly refused: Template;
  readonly formerr: Template;
  readonly notimp: Template;
  readonly badvers: Template;
}

export interface AnswerTableInput {
  zone: ZoneConfig;
  hostnames: readonly string[];
  clusters: readonly ClusterConfig[];
  /**
   * The addresses of each cluster in force now, when they come from a source that can change
   * (a Kubernetes Service or Ingress); a cluster not in the map answers with its configured
   * `addresses`.
   */
  addresses?: ReadonlyMap<string, readonly string[]>;
}

/** Addresses per cluster from a source that can change; a change rebuilds the table as a routing change does. */
export interface AddressSource {
  current(): ReadonlyMap<string, readonly string[]>;
  /** Calls fn after every change of current(); returns an unsubscribe function. */
  subscribe(fn: () => void): () => void;
}

const QR = 0x80;
const AA = 0x04;

const fixed = (rcode: number): Template => ({ flagsHigh: QR, rcode, an: 0, ns: 0, ar: 0, body: new Uint8Array(0) });

type Rr = InstanceType<typeof Packet.Resource>;

/** Encodes a reply for question `name` with dns2 and keeps the part after the question. */
function template(name: string, rcode: number, answers: Rr[], authorities: Rr[], additionals: Rr[]): Template {
  const packet = new Packet();
  packet.header = new Packet.Header({ qr: 1, aa: 1, rcode });
  // The question's type is irrelevant: the reply echoes the query's own question bytes.
  packet.questions = [new Packet.Question(name, TYPE.A, CLASS_IN)];
  packet.answers = answers;
  packet.authorities = authorities;
  packet.additionals = additionals;
  const wire = packet.toBuffer();
  const questionEnd = HEADER_SIZE + encodeName(name).length + 4;
  return {
    flagsHigh: QR | AA, rcode, an: answers.length, ns: authorities.length, ar: additionals.length,
    body: Buffer.from(wire.subarray(questionEnd)),
  };
}

const rr = (fields: Partial<Rr> & { name: string; type: number; ttl: number }): Rr => new Packet.Resource({ class: CLASS_IN, ...fields });

/** The dotted name of a wire key (table building only). */
function decodeKey(key: string): string {
  const labels: string[] = [];
  for (let i = 0; i < key.length - 1; i += key.charCodeAt(i) + 1) labels.push(key.slice(i + 1, i + 1 + key.charCodeAt(i)));
  return labels.join('.');
}

const isUnder = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

/** Builds the whole table for `active` (a configured cluster name) at routing `generation`; the hostnames' TTL follows `state` and `stale` (ttl.ts). */
export function buildAnswerTable(input: AnswerTableInput, snapshot: { active: string; generation: number; state: FailoverStateName; stale?: boolean }): AnswerTable {
  const { zone } = input;
  const cluster = input.clusters.find((c) => c.name === snapshot.active);
  if (cluster === undefined) {
    throw new SwitchyardError('SWY_DNS_ANSWER_TABLE', `cannot build DNS answers: active cluster ${snapshot.active} is not configured`, { active: snapshot.active });
  }
  const outside = input.hostnames.filter((h) => !isUnder(h, zone.name));
  if (outside.length > 0) {
    throw new SwitchyardError('SWY_DNS_ANSWER_TABLE', `cannot build DNS answers: ${outside.join(', ')} not inside zone ${zone.name}`, { hostnames: outside });
  }

  const active = input.addresses?.get(cluster.name) ?? cluster.addresses;
  // Address records per owner: in-zone nameservers (glue), then hostnames (which win on a clash).
  const addresses = new Map<string, { ttl: number; v4: string[]; v6: string[] }>();
  for (const ns of zone.nameservers) {
    if (ns.address === undefined || !isUnder(ns.name, zone.name)) continue;
    const set = addresses.get(ns.name) ?? { ttl: INFRASTRUCTURE_TTL, v4: [], v6: [] };
    (isIPv6(ns.address) ? set.v6 : set.v4).push(ns.address);
    addresses.set(ns.name, set);
  }
  for (const h of input.hostnames) {
    addresses.set(h, { ttl: answerTtl(snapshot.state, zone.ttl, snapshot.stale === true), v4: active.filter((a) => isIPv4(a)), v6: active.filter((a) => isIPv6(a)) });
  }

  const soaFields = {
    name: zone.name, type: TYPE.SOA,
    primary: zone.nameservers[0]?.name ?? zone.name, admin: zone.soa.mbox, serial: snapshot.generation % 2 ** 32,
    refresh: zone.soa.refresh, retry: zone.soa.retry, expiration: zone.soa.expire, minimum: zone.soa.negativeTtl,
  };
  // RFC 2308 §3: the SOA in a negative answer carries min(SOA TTL, SOA MINIMUM).
  const negativeSoa = () => rr({ ...soaFields, ttl: Math.min(INFRASTRUCTURE_TTL, zone.soa.negativeTtl) });
  const addressRrs = (owner: string, type: number) => {
    const set = addresses.get(owner);
    const list = set === undefined ? [] : type === TYPE.A ? set.v4 : set.v6;
    return list.map((address) => rr({ name: owner, type, ttl: set!.ttl, address }));
  };

  const statics = buildStaticZone(zone.records ?? [], zone.name, (name) => [...addressRrs(name, TYPE.A), ...addressRrs(name, TYPE.AAAA)]);
  const belowCut = (name: string) => statics.cuts.some((c) => isUnder(name, c));

  // Every owner name plus its ancestors up to the apex (empty non-terminals answer NODATA);
  // nothing at or below a delegation, which answers with its referral instead.
  const owners = new Set<string>([zone.name]);
  for (const name of [...addresses.keys(), ...statics.byOwner.keys(), ...statics.cuts]) {
    for (let n = name; n !== zone.name; n = n.slice(n.indexOf('.') + 1)) if (!belowCut(n)) owners.add(n);
  }

  const names = new Map<string, NameEntry>();
  for (const name of owners) {
    const nodata = template(name, RCODE.NOERROR, [], [negativeSoa()], []);
    const types = new Map<number, Template>();
    const a = addressRrs(name, TYPE.A);
    const aaaa = addressRrs(name, TYPE.AAAA);
    const own = statics.byOwner.get(name);
    const cname = own?.get(RR_TYPE.CNAME);
    if (cname !== undefined) {
      // A CNAME is alone at its name (validated): every type answers with it, and A/AAAA also with
      // the target's addresses when the target is in this table.
      const target = (cname[0] as unknown as { domain: string }).domain;
      const chased = (type: number) => [...addressRrs(target, type), ...(statics.byOwner.get(target)?.get(type) ?? [])];
      const other = template(name, RCODE.NOERROR, cname, [], []);
      types.set(TYPE.A, template(name, RCODE.NOERROR, [...cname, ...chased(TYPE.A)], [], []));
      types.set(TYPE.AAAA, template(name, RCODE.NOERROR, [...cname, ...chased(TYPE.AAAA)], [], []));
      names.set(encodeName(name).toString('latin1'), { types, other });
      continue;
    }
    for (const [type, rrs] of own ?? []) if (type !== TYPE.A && type !== TYPE.AAAA) types.set(type, template(name, RCODE.NOERROR, rrs, [], []));
    a.push(...(own?.get(TYPE.A) ?? []));
    aaaa.push(...(own?.get(TYPE.AAAA) ?? []));
    if (a.length > 0) types.set(TYPE.A, template(name, RCODE.NOERROR, a, [], []));
    if (aaaa.length > 0) types.set(TYPE.AAAA, template(name, RCODE.NOERROR, aaaa, [], []));
    if (name === zone.name) {
      types.set(TYPE.SOA, template(name, RCODE.NOERROR, [rr({ ...soaFields, ttl: INFRASTRUCTURE_TTL })], [], []));
      const nsRrs = zone.nameservers.map((ns) => rr({ name, type: TYPE.NS, ttl: INFRASTRUCTURE_TTL, ns: ns.name }));
      const glue = zone.nameservers.flatMap((ns) => [...addressRrs(ns.name, TYPE.A), ...addressRrs(ns.name, TYPE.AAAA)]);
      types.set(TYPE.NS, template(name, RCODE.NOERROR, nsRrs, [], glue));
    }
    // RFC 8482 §4.1: ANY gets a subset: the address records where the name has some, else the
    // SOA at the apex, else NODATA.
    if (a.length + aaaa.length > 0) types.set(TYPE.ANY, template(name, RCODE.NOERROR, [...a, ...aaaa], [], []));
    else if (name === zone.name) types.set(TYPE.ANY, types.get(TYPE.SOA)!);
    else if (own !== undefined && own.size > 0) types.set(TYPE.ANY, types.get([...own.keys()][0])!);
    names.set(encodeName(name).toString('latin1'), { types, other: nodata });
  }

  // NXDOMAIN is shared by every name, so its SOA is encoded on its own, without compression
  // pointers into a question whose length is not known in advance.
  const nxSoa = Packet.Resource.encode(negativeSoa(), new Packet.Writer());
  return {
    generation: snapshot.generation,
    active: cluster.name,
    names,
    zone: encodeName(zone.name),
    nxdomain: { flagsHigh: QR | AA, rcode: RCODE.NXDOMAIN, an: 0, ns: 1, ar: 0, body: nxSoa },
    referrals: statics.referrals.map((r) => ({ ...r, ds: template(r.key === '' ? zone.name : decodeKey(r.key), RCODE.NOERROR, [], [negativeSoa()], []) })),
    refused: fixed(RCODE.REFUSED),
    formerr: fixed(RCODE.FORMERR),
    notimp: fixed(RCODE.NOTIMP),
    badvers: fixed(RCODE.BADVERS),
  };
}

/**
 * The template for a parsed query whose status is OK: class IN only (others REFUSED), no zone
 * transfers (REFUSED), OPT as a question type is FORMERR; then the table, then NXDOMAIN inside
 * the zone and REFUSED outside it.
 */
export function lookup(table: AnswerTable, q: Query): Template {
  if (q.qclass !== CLASS_IN) return table.refused;
  const qtype = q.qtype;
  if (qtype === TYPE.OPT) return table.formerr;
  if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) return table.refused;
  const key = q.name.toString('latin1', 0, q.nameLength);
  const entry = table.names.get(key);
  if (entry !== undefined) return entry.types.get(qtype) ?? entry.other;
  if (!inZone(q.name, q.nameLength, table.zone)) return table.refused;
  // At or below a delegation: the referral (no allocation: label offsets into the key).
  const referrals = table.referrals;
  if (referrals.length > 0) {
    for (let i = 0; i < key.length - 1; i += key.charCodeAt(i) + 1) {
      for (let r = 0; r < referrals.length; r++) {
        const ref = referrals[r];
        if (key.length - i === ref.key.length && key.startsWith(ref.key, i)) return i === 0 && qtype === RR_TYPE.DS ? ref.ds : ref.template;
      }
    }
  }
  return table.nxdomain;
}
