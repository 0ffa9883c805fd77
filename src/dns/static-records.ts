// zone.records in the answer table: the records as dns2 resources grouped by owner and type,
// and the delegations (NS below the apex) as referral templates. Built with the table, never on
// the answering path.
import type { StaticRecord } from '../config/types.ts';
import { requirePackage } from '../packages.ts';
import { TYPE, encodeName, type Template } from './wire.ts';

const { Packet } = requirePackage('dns2') as typeof import('dns2');

/** Wire type codes of the static record types (and DS, which the parent side answers at a cut). */
export const RR_TYPE = { A: TYPE.A, AAAA: TYPE.AAAA, NS: TYPE.NS, CNAME: 5, MX: 15, TXT: 16, SRV: 33, CAA: 257, DS: 43 } as const;

type Rr = InstanceType<typeof Packet.Resource>;
const CLASS_IN = 1;
const QR = 0x80;

const isUnder = (name: string, zone: string) => name === zone || name.endsWith(`.${zone}`);

export function toResource(r: StaticRecord): Rr {
  const base = { name: r.name, ttl: r.ttl, class: CLASS_IN, type: RR_TYPE[r.type] };
  switch (r.type) {
    case 'A': case 'AAAA': return new Packet.Resource({ ...base, address: r.address });
    case 'CNAME': return new Packet.Resource({ ...base, domain: r.target });
    case 'NS': return new Packet.Resource({ ...base, ns: r.target });
    case 'MX': return new Packet.Resource({ ...base, exchange: r.exchange, priority: r.preference });
    case 'TXT': return new Packet.Resource({ ...base, data: r.strings });
    case 'SRV': return new Packet.Resource({ ...base, priority: r.priority, weight: r.weight, port: r.port, target: r.target });
    case 'CAA': return new Packet.Resource({ ...base, flags: r.flags, tag: r.tag, value: r.value });
  }
}

/** A referral to a delegated subzone: its NS records in the authority section and their glue. */
export interface Referral {
  /** The cut's lower-cased wire name as a latin1 string (the table's key form). */
  readonly key: string;
  readonly template: Template;
}

export interface StaticZone {
  /** Authoritative static records by owner, then wire type (nothing at or below a cut). */
  byOwner: Map<string, Map<number, Rr[]>>;
  /** Names of delegated subzones. */
  cuts: string[];
  referrals: Referral[];
}

const encodeStandalone = (rrs: Rr[]): Buffer => Buffer.concat(rrs.map((x) => Packet.Resource.encode(x, new Packet.Writer()) as Buffer));

/**
 * Groups the records; `addressesOf(name)` gives other A/AAAA the table serves (in-zone name
 * servers, failover hostnames), used as glue of a delegation whose name servers sit there.
 */
export function buildStaticZone(records: readonly StaticRecord[], zone: string, addressesOf: (name: string) => Rr[]): StaticZone {
  const cuts = [...new Set(records.filter((r) => r.type === 'NS' && r.name !== zone).map((r) => r.name))];
  const cutOf = (name: string) => cuts.find((c) => isUnder(name, c));
  const byOwner = new Map<string, Map<number, Rr[]>>();
  for (const r of records) {
    if (cutOf(r.name) !== undefined) continue;
    let types = byOwner.get(r.name);
    if (!types) { types = new Map(); byOwner.set(r.name, types); }
    const t = RR_TYPE[r.type];
    types.set(t, [...(types.get(t) ?? []), toResource(r)]);
  }
  const referrals: Referral[] = cuts.map((cut) => {
    const ns = records.filter((r) => r.type === 'NS' && r.name === cut);
    const targets = ns.map((r) => (r as { target: string }).target);
    const glue = targets.flatMap((t) => {
      const own = records.filter((r) => (r.type === 'A' || r.type === 'AAAA') && r.name === t).map(toResource);
      return own.length > 0 ? own : addressesOf(t);
    });
    const nsRrs = ns.map(toResource);
    return {
      key: encodeName(cut).toString('latin1'),
      // Not authoritative (AA clear): the answer is the subzone's name servers' (RFC 1034 §4.3.2).
      template: { flagsHigh: QR, rcode: 0, an: 0, ns: nsRrs.length, ar: glue.length, body: encodeStandalone([...nsRrs, ...glue]) },
    };
  });
  return { byOwner, cuts, referrals };
}
