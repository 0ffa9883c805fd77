// DNS metrics on the Registry passed in. Label sets are bounded: query types outside a fixed
// list count as "other" ("none" when the question did not parse), rcodes are the six we send.
// The hot path only increments slots of a Float64Array (its "counters"); the prom-client metrics
// read them when scraped. With dns.workers > 1 every worker thread writes its own slots in shared
// memory (one writer per array) and the main thread's metrics add up all of them.
import { Counter, Gauge, type Registry } from '../prom-client-parts.ts';

const QTYPE_LABELS: ReadonlyArray<[number, string]> = [
  [1, 'A'], [2, 'NS'], [5, 'CNAME'], [6, 'SOA'], [12, 'PTR'], [15, 'MX'], [16, 'TXT'], [28, 'AAAA'], [33, 'SRV'],
  [35, 'NAPTR'], [43, 'DS'], [48, 'DNSKEY'], [64, 'SVCB'], [65, 'HTTPS'], [251, 'IXFR'], [252, 'AXFR'], [255, 'ANY'], [257, 'CAA'],
];
const QTYPE_SLOTS = QTYPE_LABELS.length + 2;   // plus other and none
const RCODE_LABELS: ReadonlyArray<[number, string]> = [[0, 'NOERROR'], [1, 'FORMERR'], [3, 'NXDOMAIN'], [4, 'NOTIMP'], [5, 'REFUSED'], [16, 'BADVERS']];

export const TRANSPORT = { UDP: 0, TCP: 1 } as const;
export type Transport = (typeof TRANSPORT)[keyof typeof TRANSPORT];
export type DropReason = 'short' | 'response' | 'ratelimited' | 'overload';
const DROP_REASONS: readonly DropReason[] = ['short', 'response', 'ratelimited', 'overload'];

// Slot layout of one counters array: queries by (qtype index × rcodes + rcode index) × 2 + transport, then the rest.
const QUERY_SLOTS = QTYPE_SLOTS * RCODE_LABELS.length * 2;
const DROPPED = QUERY_SLOTS;
const SLIPPED = DROPPED + DROP_REASONS.length;
const TCP_REJECTED = SLIPPED + 1;
const TCP_OPEN = TCP_REJECTED + 1;
const GENERATION = TCP_OPEN + 1;
const RATE_LIMIT_ENTRIES = GENERATION + 1;
const TCP_EVICTED = RATE_LIMIT_ENTRIES + 1;
/** Length of one counters array (Float64Array slots). */
export const COUNTER_SLOTS = TCP_EVICTED + 1;

export interface DnsMetrics {
  /** One reply sent; `qtype` -1 when the question did not parse. */
  query(qtype: number, rcode: number, transport: Transport): void;
  dropped(reason: DropReason): void;
  slipped(): void;
  generation(value: number): void;
  tcpConnections(delta: number): void;
  tcpRejected(): void;
  tcpEvicted(): void;
  rateLimitEntries(value: number): void;
}

const qtypeIndex = new Uint8Array(65536);          // query type → index in qtypeNames (0: other)
const qtypeNames = ['other', 'none'];
for (const [code, label] of QTYPE_LABELS) { qtypeIndex[code] = qtypeNames.length; qtypeNames.push(label); }
const rcodeIndex = new Uint8Array(17);
for (const [i, [code]] of RCODE_LABELS.entries()) rcodeIndex[code] = i;
const dropIndex: Record<DropReason, number> = { short: 0, response: 1, ratelimited: 2, overload: 3 };

/** The hot-path side: writes `slots` (a COUNTER_SLOTS-long array; this thread must be its only writer). */
export function createDnsCounters(slots: Float64Array): DnsMetrics {
  if (slots.length !== COUNTER_SLOTS) throw new RangeError(`DNS counters need ${COUNTER_SLOTS} slots, got ${slots.length}`);
  return {
    query(qtype, rcode, transport) {
      slots[((qtype < 0 ? 1 : qtypeIndex[qtype]) * RCODE_LABELS.length + rcodeIndex[rcode]) * 2 + transport]++;
    },
    dropped: (reason) => { slots[DROPPED + dropIndex[reason]]++; },
    slipped: () => { slots[SLIPPED]++; },
    generation: (value) => { slots[GENERATION] = value; },
    tcpConnections: (delta) => { slots[TCP_OPEN] += delta; },
    tcpRejected: () => { slots[TCP_REJECTED]++; },
    tcpEvicted: () => { slots[TCP_EVICTED]++; },
    rateLimitEntries: (value) => { slots[RATE_LIMIT_ENTRIES] = value; },
  };
}

/** Replies sent so far by the thread writing `slots` (every query type, rcode and transport). */
export function repliesSent(slots: Float64Array): number {
  let n = 0;
  for (let i = 0; i < QUERY_SLOTS; i++) n += slots[i];
  return n;
}

/** Zeroes the levels (open TCP connections, rate-limit accounts) of a thread that is gone. */
export function resetLevels(slots: Float64Array): void {
  slots[TCP_OPEN] = 0;
  slots[RATE_LIMIT_ENTRIES] = 0;
}

/**
 * The scrape side: registers the DNS metrics on `registry`, reading every array `sources()`
 * returns (one per answering thread). Counters add what grew since the last scrape; the
 * generation gauge shows the lowest generation any thread serves.
 */
export function registerDnsMetrics(registry: Registry, sources: () => readonly Float64Array[]): void {
  const seen = new Float64Array(COUNTER_SLOTS);
  const total = (slot: number) => { let n = 0; for (const s of sources()) n += s[slot]; return n; };
  const grown = (slot: number) => { const n = total(slot); const d = n - seen[slot]; seen[slot] = n; return d > 0 ? d : 0; };
  const queries: Counter<'qtype' | 'rcode' | 'transport'> = new Counter({
    name: 'switchyard_dns_queries_total', help: 'DNS replies sent, by query type, rcode and transport',
    labelNames: ['qtype', 'rcode', 'transport'] as const, registers: [registry],
    collect() {
      for (let i = 0; i < QUERY_SLOTS; i++) {
        const d = grown(i);
        if (d === 0) continue;
        const slot = i >> 1;                               // i = slot * 2 + transport
        const r = slot % RCODE_LABELS.length;              // slot = qtype index * rcodes + rcode index
        const q = (slot - r) / RCODE_LABELS.length;
        queries.labels(qtypeNames[q], RCODE_LABELS[r][1], (i & 1) === TRANSPORT.UDP ? 'udp' : 'tcp').inc(d);
      }
    },
  });
  const dropped: Counter<'reason'> = new Counter({
    name: 'switchyard_dns_dropped_total', help: 'DNS messages received and not answered: short (under 12 bytes), response (QR=1), ratelimited, overload (UDP send queue full)',
    labelNames: ['reason'] as const, registers: [registry],
    collect() { for (const [i, reason] of DROP_REASONS.entries()) dropped.labels(reason).inc(grown(DROPPED + i)); },
  });
  const slipped: Counter = new Counter({
    name: 'switchyard_dns_ratelimit_slipped_total', help: 'Rate-limited UDP replies sent truncated (TC=1) instead of dropped', registers: [registry],
    collect() { slipped.inc(grown(SLIPPED)); },
  });
  new Gauge({
    name: 'switchyard_dns_answer_table_generation', help: 'Routing generation the DNS answer table in use was built from (the lowest of all DNS worker threads)', registers: [registry],
    collect() { let g = Infinity; for (const s of sources()) g = Math.min(g, s[GENERATION]); this.set(Number.isFinite(g) ? g : 0); },
  });
  new Gauge({ name: 'switchyard_dns_tcp_connections', help: 'Open DNS TCP connections', registers: [registry], collect() { this.set(total(TCP_OPEN)); } });
  const rejected: Counter = new Counter({
    name: 'switchyard_dns_tcp_rejected_total', help: 'DNS TCP connections closed at once: dns.tcp.maxConnections (or maxConnectionsPerSource for the source) open and none of them idle', registers: [registry],
    collect() { rejected.inc(grown(TCP_REJECTED)); },
  });
  const evicted: Counter = new Counter({
    name: 'switchyard_dns_tcp_evicted_total', help: 'Idle DNS TCP connections closed to make room for a new one at a connection cap', registers: [registry],
    collect() { evicted.inc(grown(TCP_EVICTED)); },
  });
  new Gauge({
    name: 'switchyard_dns_ratelimit_entries', help: 'Source prefixes tracked by response rate limiting (all DNS worker threads)', registers: [registry],
    collect() { this.set(total(RATE_LIMIT_ENTRIES)); },
  });
}

/** Both sides on one thread: the counters this thread writes, registered on `registry`. */
export function createDnsMetrics(registry: Registry): DnsMetrics {
  const slots = new Float64Array(COUNTER_SLOTS);
  registerDnsMetrics(registry, () => [slots]);
  return createDnsCounters(slots);
}
