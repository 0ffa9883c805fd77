// Admission of client connections to the proxy, decided once per accepted connection (never
// per request): at most `perSource` from one address, and at most `limit` in all (a tunnel
// counts twice: it holds an upstream socket too). At the limit the oldest idle connection (no
// request in progress, no tunnel) is closed to make room, as RFC 7766 §6.2.3 and Knot do for
// DNS over TCP, so idle connections cannot lock real clients out; when none is idle the new
// connection is closed at once. Either way the file descriptors in use stay within the budget.
import type { Socket } from 'node:net';
import type { ProxyMetrics, RefuseReason } from './metrics.ts';

export type { RefuseReason };

export interface ConnectionBudget {
  /** Registers the socket, or closes it (or an older idle one) to stay within the limits. False: refused. */
  admit(socket: Socket): boolean;
  readonly open: number;
  readonly limit: number;
}

export interface ConnectionBudgetOptions { limit: number; perSource: number }
export interface ConnectionBudgetDeps {
  /** Counts open, refused and evicted connections (the limit gauge is the metrics' own). */
  metrics: ProxyMetrics;
  /** Tunnels open to every upstream (each holds one upstream socket). */
  tunnels(): number;
  /** Whether the client socket carries an upgraded tunnel. */
  isTunnel(socket: Socket): boolean;
  /** Told when a connection is refused or evicted (rate-limited by the caller). */
  onPressure(what: 'refused' | 'evicted', reason: RefuseReason, open: number): void;
}

/** A request is in progress on the socket: Node's http server sets this while a response is open. */
const busy = (socket: Socket): boolean => (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;

export function createConnectionBudget(options: ConnectionBudgetOptions, deps: ConnectionBudgetDeps): ConnectionBudget {
  const clients = new Set<Socket>();            // in accept order: the oldest first
  const perSource = new Map<string, number>();
  const { metrics } = deps;

  const evictOldestIdle = (): boolean => {
    for (const s of clients) {
      if (busy(s) || deps.isTunnel(s)) continue;
      s.destroy();
      forget(s);
      metrics.evicted();
      deps.onPressure('evicted', 'limit', clients.size);
      return true;
    }
    return false;
  };

  const forget = (socket: Socket) => {
    if (!clients.delete(socket)) return;
    metrics.connections(-1);
    const source = socket.remoteAddress ?? '';
    const n = (perSource.get(source) ?? 1) - 1;
    if (n <= 0) perSource.delete(source);
    else perSource.set(source, n);
  };

  const refuse = (socket: Socket, reason: RefuseReason): false => {
    socket.destroy();
    metrics.refused(reason);
    deps.onPressure('refused', reason, clients.size);
    return false;
  };

  return {
    admit(socket) {
      const source = socket.remoteAddress ?? '';
      const fromSource = perSource.get(source) ?? 0;
      if (fromSource >= options.perSource) return refuse(socket, 'per_source');
      if (clients.size + deps.tunnels() >= options.limit && !evictOldestIdle()) return refuse(socket, 'limit');
      clients.add(socket);
      perSource.set(source, fromSource + 1);
      metrics.connections(1);
      socket.once('close', () => forget(socket));
      return true;
    },
    get open() { return clients.size; },
    limit: options.limit,
  };
}
