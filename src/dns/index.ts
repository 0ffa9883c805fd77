export { createDnsServer, type DnsServer, type DnsServerOptions, type DnsServerDeps } from './server.ts';
export { buildAnswerTable, lookup, INFRASTRUCTURE_TTL, type AddressSource, type AnswerTable, type AnswerTableInput, type NameEntry } from './answer-table.ts';
export { answerTtl } from './ttl.ts';
export { createResponder, type Responder, type ResponderDeps } from './responder.ts';
export { createRateLimiter, prefixKey, VERDICT, DEFAULT_MAX_ENTRIES, type RateLimiter, type Verdict } from './rate-limit.ts';
export { createDnsWorkers, type DnsWorkers, type DnsWorkersDeps } from './workers.ts';
export { createDnsMetrics, createDnsCounters, registerDnsMetrics, COUNTER_SLOTS, TRANSPORT, type DnsMetrics, type Transport, type DropReason } from './metrics.ts';
export { serveTcpConnection } from './tcp-connection.ts';
export {
  parseQuery, createQuery, assembleReply, udpLimit, inZone, encodeName,
  TYPE, CLASS_IN, RCODE, STATUS, HEADER_SIZE, OPT_RR_SIZE, CLASSIC_UDP_SIZE, MAX_TCP_MESSAGE,
  type Query, type Template,
} from './wire.ts';
