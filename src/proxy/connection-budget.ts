// Admission of client connections to the proxy, decided once per accepted connection (never
// per request): at most `perSource` from one address, and at most `limit` in all (a tunnel
// counts twice: it holds an upstream socket too). At the limit the oldest idle connection (no
// request in progress, no tunnel) is closed to make room, as RFC 7766 §6.2.3 and Knot do for
// DNS over TCP, so idle connections cannot lock real clients out; when none is idle the new
// connection is closed at once. Either way the file descriptors in use stay within the budget.
import type { Socket } from 'node:net';
import { Counter, Gauge, type Registry } from 'prom-client';

export type RefuseReason = 'limit' | 'per_source';

export interface ConnectionBudget {
  /** Registers the socket, or closes it (or an older idle one) to stay within the limits. False: refused. */
  admit(socket: Socket): boolean;
  readonly open: number;
  readonly limit: number;
}

export interface ConnectionBudgetOptions { limit: number; perSource: number }
export interface ConnectionBudgetDeps {
  registry: Registry;
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
  const open = new Gauge({ name: 'switchyard_proxy_connections', help: 'Open client connections to the proxy', registers: [deps.registry] });
  new Gauge({ name: 'switchyard_proxy_connections_limit', help: 'Client connections the proxy accepts (proxy.maxConnections, lowered to fit the file-descriptor budget)', registers: [deps.registry] }).set(options.limit);
  const refused = new Counter({ name: 'switchyard_proxy_connections_refused_total', help: 'Client connections closed at once: limit (every slot busy) or per_source (proxy.maxConnectionsPerSource)', labelNames: ['reason'] as const, registers: [deps.registry] });
  const evicted = new Counter({ name: 'switchyard_proxy_connections_evicted_total', help: 'Idle client connections closed to make room for a new one at proxy.maxConnections', registers: [deps.registry] });
  refused.labels('limit').inc(0);
  refused.labels('per_source').inc(0);

  const evictOldestIdle = (): boolean => {
    for (const s of clients) {
      if (busy(s) || deps.isTunnel(s)) continue;
      s.destroy();
      forget(s);
      evicted.inc();
      deps.onPressure('evicted', 'limit', clients.size);
      return true;
    }
    return false;
  };

  const forget = (socket: Socket) => {
    if (!clients.delete(socket)) return;
    open.dec();
    const source = socket.remoteAddress ?? '';
    const n = (perSource.get(source) ?? 1) - 1;
    if (n <= 0) perSource.delete(source);
    else perSource.set(source, n);
  };

  const refuse = (socket: Socket, reason: RefuseReason): false => {
    socket.destroy();
    refused.labels(reason).inc();
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
      open.inc();
      socket.once('close', () => forget(socket));
      return true;
    },
    get open() { return clients.size; },
    limit: options.limit,
  };
}
