// The TTL of failover answers, a pure choice (as in gdnsd): the configured TTL while nothing is
// moving; a sixth of it (at least 1 s) while a change is near or under way (a probe of the
// active is failing, a precheck or a transition runs, or a hold waits for a person), so caches
// converge faster once the answer does change. The same shortened TTL while the answer is
// `stale`: this instance cannot reach the shared store (several instances on etcd), so it serves
// the last committed state it saw, and caches should ask again soon (static stability).
import type { FailoverStateName } from '../routing/types.ts';

export function answerTtl(state: FailoverStateName, ttl: number, stale = false): number {
  return !stale && (state === 'steady' || state === 'failed-over') ? ttl : Math.max(1, Math.ceil(ttl / 6));
}
