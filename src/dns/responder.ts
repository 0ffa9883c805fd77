// The per-query path shared by UDP and TCP: parse, pick a template, rate-limit (UDP only),
// assemble, count. Synchronous; allocates the lookup key and the reply, nothing else.
import { lookup, type AnswerTable } from './answer-table.ts';
import { TRANSPORT, type DnsMetrics, type Transport } from './metrics.ts';
import { VERDICT, type RateLimiter } from './rate-limit.ts';
import { MAX_TCP_MESSAGE, STATUS, assembleReply, createQuery, parseQuery, udpLimit, type Template } from './wire.ts';

export interface ResponderDeps {
  /** The answer table in force (read once per query). */
  table: () => AnswerTable;
  /** null: rate limiting off. */
  rateLimiter: RateLimiter | null;
  metrics: DnsMetrics;
  now: () => number;
  /** dns.maxUdpSize: the payload size advertised in our OPT and the cap on the requestor's. */
  maxUdpSize: number;
}

/** Returns the reply to send (for TCP with its 2-byte length prefix), or null to send nothing. */
export type Responder = (msg: Buffer, transport: Transport, source: string) => Buffer | null;

export function createResponder(deps: ResponderDeps): Responder {
  const q = createQuery();
  const { rateLimiter, metrics, now, maxUdpSize } = deps;
  // The last lookup, remembered: lookup() is a pure function of (table, name, qtype, qclass), and
  // a server mostly sees the same question again, so a byte comparison of the name replaces the
  // string key and the two Map lookups.
  let lastTable: AnswerTable | null = null;
  const lastName = Buffer.alloc(256);
  let lastLength = 0;
  let lastType = -1;
  let lastClass = -1;
  let lastTemplate: Template | null = null;
  const cached = (table: AnswerTable): Template => {
    const n = q.nameLength;
    if (table === lastTable && q.qtype === lastType && q.qclass === lastClass && n === lastLength) {
      const name = q.name;
      let i = 0;
      while (i < n && name[i] === lastName[i]) i++;
      if (i === n) return lastTemplate!;
    }
    const t = lookup(table, q);
    lastTable = table;
    lastType = q.qtype;
    lastClass = q.qclass;
    lastLength = n;
    q.name.copy(lastName, 0, 0, n);
    lastTemplate = t;
    return t;
  };
  return (msg, transport, source) => {
    parseQuery(msg, q);
    const table = deps.table();
    let t: Template;
    switch (q.status) {
      case STATUS.OK: t = cached(table); break;
      case STATUS.SHORT: metrics.dropped('short'); return null;
      case STATUS.RESPONSE: metrics.dropped('response'); return null;
      case STATUS.NOTIMP: t = table.notimp; break;
      case STATUS.BADVERS: t = table.badvers; break;
      default: t = table.formerr;
    }
    if (transport === TRANSPORT.TCP) {
      const reply = assembleReply(msg, q, t, MAX_TCP_MESSAGE, false, maxUdpSize, 2);
      metrics.query(q.qtype, t.rcode, transport);
      return reply;
    }
    if (rateLimiter !== null) {
      const verdict = rateLimiter.check(source, now());
      metrics.rateLimitEntries(rateLimiter.size());
      if (verdict === VERDICT.DROP) { metrics.dropped('ratelimited'); return null; }
      if (verdict === VERDICT.SLIP) { metrics.slipped(); return assembleReply(msg, q, t, 0, true, maxUdpSize, 0); }
    }
    const reply = assembleReply(msg, q, t, udpLimit(q, maxUdpSize), false, maxUdpSize, 0);
    metrics.query(q.qtype, t.rcode, transport);
    return reply;
  };
}
