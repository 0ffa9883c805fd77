// The DNS server: UDP and TCP listeners on every dns.listen address, the answer table (rebuilt
// and swapped whole on every routing change), rate limiting and metrics.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import type { Registry } from 'prom-client';
import type { ClusterConfig, DnsConfig, ListenAddress, ZoneConfig } from '../config/types.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { RoutingSnapshot, RoutingSource } from '../routing/types.ts';
import { buildAnswerTable, type AddressSource, type AnswerTable } from './answer-table.ts';
import { TRANSPORT, createDnsMetrics, type DnsMetrics } from './metrics.ts';
import { createRateLimiter } from './rate-limit.ts';
import { createResponder } from './responder.ts';
import { serveTcpConnection, type TcpConnection } from './tcp-connection.ts';

export interface DnsServerOptions { zone: ZoneConfig; hostnames: string[]; clusters: ClusterConfig[]; dns: DnsConfig }
export interface DnsServerDeps {
  routing: RoutingSource;
  logger: Logger;
  /** Where the DNS metrics are registered; a worker thread passes `metrics` (its shared counters) instead. */
  registry?: Registry;
  metrics?: DnsMetrics;
  /** SO_REUSEPORT on every socket: several threads answer on the same addresses (dns.workers > 1). */
  reusePort?: boolean;
  /** Clusters' addresses that can change (from Kubernetes); absent: the configured addresses. */
  addresses?: AddressSource;
  now?: () => number;
}

export interface DnsServer {
  /** Binds UDP and TCP on every dns.listen address; throws SWY_LISTEN_FAILED naming the address. */
  start(): Promise<void>;
  /** Stops accepting, lets in-flight TCP replies finish, closes sockets. */
  close(): Promise<void>;
  /** As bound (port 0 resolved). */
  addresses(): { udp: Array<{ address: string; port: number }>; tcp: Array<{ address: string; port: number }> };
  /** The routing generation of the answer table in use. */
  generation(): number;
}

/** Largest kernel socket buffers asked for (the kernel caps them at net.core.[rw]mem_max). */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/** How long close() waits for TCP clients to take their last replies before cutting them off. */
const TCP_CLOSE_GRACE_MS = 2000;
/** Replies waiting in user space for the kernel's UDP send buffer before new ones are dropped. */
const MAX_UDP_SEND_QUEUE = 4096;
/** Attempts at binding UDP and TCP to the same port when the configured port is 0. */
const SAME_PORT_ATTEMPTS = 10;

const show = (l: { host: string; port: number; family: 4 | 6 }) => (l.family === 6 ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`);

// The only addresses we send to are the IP literals dgram reported as senders: no name lookup.
const literalLookup = (address: string, _options: unknown, callback: (err: null, address: string, family: number) => void) => {
  callback(null, address, address.includes(':') ? 6 : 4);
};

export function createDnsServer(options: DnsServerOptions, deps: DnsServerDeps): DnsServer {
  const logger = deps.logger.child({ module: 'dns' });
  const now = deps.now ?? Date.now;
  const { dns } = options;
  const rateLimiter = dns.rateLimit.responsesPerSecond > 0 ? createRateLimiter(dns.rateLimit) : null;
  const metrics = deps.metrics ?? (deps.registry && createDnsMetrics(deps.registry));
  if (metrics === undefined) throw new TypeError('createDnsServer needs a registry or metrics');
  const reusePort = deps.reusePort === true;

  const input = () => (deps.addresses ? { ...options, addresses: deps.addresses.current() } : options);
  let table: AnswerTable = buildAnswerTable(input(), deps.routing.current());
  metrics.generation(table.generation);
  const onRouting = (snapshot: RoutingSnapshot) => {
    let next: AnswerTable;
    try {
      next = buildAnswerTable(input(), snapshot);
    } catch (err) {
      logger.error({ err, generation: snapshot.generation, active: snapshot.active }, `DNS answers not updated, still ${table.active} (generation ${table.generation}): ${describeError(err)}`);
      return;
    }
    const previous = table;
    table = next;
    metrics.generation(next.generation);
    if (previous.active !== next.active) logger.info({ from: previous.active, to: next.active, generation: next.generation }, `DNS answers switched ${previous.active}→${next.active} (generation ${next.generation})`);
    else logger.debug({ active: next.active, generation: next.generation }, 'DNS answer table rebuilt');
  };

  const respond = createResponder({ table: () => table, rateLimiter, metrics, now, maxUdpSize: dns.maxUdpSize });
  const udpSockets: UdpSocket[] = [];
  const tcpServers: Server[] = [];
  const connections = new Set<Socket>();
  // Per source address, in accept order (the oldest first), with each connection's state.
  const bySource = new Map<string, Map<Socket, TcpConnection>>();
  let unsubscribe: (() => void) | null = null;
  let unsubscribeAddresses: (() => void) | null = null;
  const onAddresses = () => {
    const before = table;
    onRouting(deps.routing.current());
    const list = deps.addresses!.current().get(table.active);
    if (table !== before) logger.info({ active: table.active, addresses: list }, `DNS answers for ${table.active} rebuilt: its addresses changed to ${list?.join(', ') || 'none'}`);
  };

  /** Closes the oldest idle connection of `pool` (RFC 7766 §6.2.3, as Knot does); false when none is idle. */
  const closeOldestIdle = (pool: Iterable<[Socket, TcpConnection]>): boolean => {
    for (const [s, c] of pool) {
      if (!c.idle()) continue;
      s.destroy();
      forget(s);
      metrics.tcpEvicted();
      return true;
    }
    return false;
  };
  /** Out of the tables at once (its 'close' comes later), so a burst cannot pick it twice. */
  const forget = (socket: Socket) => {
    connections.delete(socket);
    const source = socket.remoteAddress ?? '';
    const pool = bySource.get(source);
    if (pool === undefined) return;
    pool.delete(socket);
    if (pool.size === 0) bySource.delete(source);
  };
  const allConnections = function* (): Generator<[Socket, TcpConnection]> {
    for (const s of connections) {
      const c = bySource.get(s.remoteAddress ?? '')?.get(s);
      if (c !== undefined) yield [s, c];
    }
  };

  // Per connection, never per query: at a cap the oldest idle connection (of the source, or of
  // all) makes room, so truncated UDP answers can still be fetched over TCP.
  const onConnection = (socket: Socket) => {
    const source = socket.remoteAddress ?? '';
    const mine = bySource.get(source);
    if ((mine !== undefined && mine.size >= dns.tcp.maxConnectionsPerSource && !closeOldestIdle(mine))
      || (connections.size >= dns.tcp.maxConnections && !closeOldestIdle(allConnections()))) {
      metrics.tcpRejected();
      socket.destroy();
      return;
    }
    connections.add(socket);
    metrics.tcpConnections(1);
    const conn = serveTcpConnection(socket, respond, { idleTimeout: dns.tcp.idleTimeout, messageTimeout: dns.tcp.messageTimeout });
    let pool = bySource.get(source);
    if (pool === undefined) { pool = new Map(); bySource.set(source, pool); }
    pool.set(socket, conn);
    socket.once('close', () => {
      metrics.tcpConnections(-1);
      forget(socket);
    });
  };

  const bindUdp = (l: ListenAddress, port: number) => new Promise<UdpSocket>((resolve, reject) => {
    const socket = createSocket({ type: l.family === 6 ? 'udp6' : 'udp4', ipv6Only: l.family === 6, lookup: literalLookup, reusePort });
    socket.once('error', (err) => { socket.close(); reject(err); });
    socket.bind({ address: l.host, port, exclusive: true }, () => {
      socket.removeAllListeners('error');
      socket.on('error', (err) => logger.warn({ err, listen: show(l) }, `DNS UDP socket error on ${show(l)}: ${describeError(err)}`));
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch (err) {
        logger.debug({ err }, 'DNS UDP socket buffers left at the system default');
      }
      socket.on('message', (msg, rinfo) => {
        const reply = respond(msg, TRANSPORT.UDP, rinfo.address);
        if (reply === null) return;
        // libuv queues in user space when the kernel buffer is full: cap that queue.
        if (socket.getSendQueueCount() >= MAX_UDP_SEND_QUEUE) { metrics.dropped('overload'); return; }
        socket.send(reply, rinfo.port, rinfo.address);
      });
      resolve(socket);
    });
  });

  const bindTcp = (l: ListenAddress, port: number) => new Promise<Server>((resolve, reject) => {
    const server = createServer({ noDelay: true }, onConnection);
    server.once('error', reject);
    server.listen({ host: l.host, port, ipv6Only: l.family === 6, exclusive: true, reusePort }, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => logger.warn({ err, listen: show(l) }, `DNS TCP listener error on ${show(l)}: ${describeError(err)}`));
      resolve(server);
    });
  });

  /** UDP then TCP on the UDP socket's port (the same port when the configured one is 0). */
  const bindPair = async (l: ListenAddress): Promise<[UdpSocket, Server]> => {
    for (let attempt = 1; ; attempt++) {
      let udp: UdpSocket;
      try {
        udp = await bindUdp(l, l.port);
      } catch (err) {
        throw new SwitchyardError('SWY_LISTEN_FAILED', `DNS cannot listen on udp ${show(l)}: ${describeError(err)}`, { address: show(l), transport: 'udp' }, { cause: err });
      }
      const port = udp.address().port;
      try {
        return [udp, await bindTcp(l, port)];
      } catch (err) {
        udp.close();
        if (l.port === 0 && (err as { code?: string }).code === 'EADDRINUSE' && attempt < SAME_PORT_ATTEMPTS) continue;
        throw new SwitchyardError('SWY_LISTEN_FAILED', `DNS cannot listen on tcp ${show({ ...l, port })}: ${describeError(err)}`, { address: show({ ...l, port }), transport: 'tcp' }, { cause: err });
      }
    }
  };

  const closeAll = async () => {
    unsubscribe?.();
    unsubscribe = null;
    unsubscribeAddresses?.();
    unsubscribeAddresses = null;
    for (const s of udpSockets.splice(0)) s.close();
    const closed = tcpServers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    for (const c of connections) c.end();
    const grace = setTimeout(() => { for (const c of connections) c.destroy(); }, TCP_CLOSE_GRACE_MS);
    await Promise.all(closed);
    clearTimeout(grace);
  };

  return {
    async start() {
      try {
        for (const l of dns.listen) {
          const [udp, tcp] = await bindPair(l);
          udpSockets.push(udp);
          tcpServers.push(tcp);
        }
      } catch (err) {
        await closeAll();
        throw err;
      }
      // Catch up with any change made since the table was built, then follow every change.
      if (deps.routing.current().generation !== table.generation) onRouting(deps.routing.current());
      unsubscribe = deps.routing.subscribe(onRouting);
      if (deps.addresses) {
        onRouting(deps.routing.current());
        unsubscribeAddresses = deps.addresses.subscribe(onAddresses);
      }
      const bound = udpSockets.map((s) => { const a = s.address(); return show({ host: a.address, port: a.port, family: a.family === 'IPv6' ? 6 : 4 }); });
      logger.info({ listen: bound, active: table.active, generation: table.generation, rateLimit: dns.rateLimit.responsesPerSecond },
        `DNS serving ${options.zone.name} on ${bound.join(', ')} (udp+tcp), answers from ${table.active}`);
    },
    close: closeAll,
    generation: () => table.generation,
    addresses() {
      const udp = udpSockets.map((s) => { const a = s.address(); return { address: a.address, port: a.port }; });
      const tcp = tcpServers.map((s) => { const a = s.address() as { address: string; port: number }; return { address: a.address, port: a.port }; });
      return { udp, tcp };
    },
  };
}
