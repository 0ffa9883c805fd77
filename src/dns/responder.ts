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
  return (msg, transport, source) => {
    parseQuery(msg, q);
    const table = deps.table();
    let t: Template;
    switch (q.status) {
      case STATUS.OK: t = lookup(table, q); break;
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
