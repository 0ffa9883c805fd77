// Fixtures for the proxy tests: real HTTP origins on loopback addresses, a routing source the
// test drives, a proxy built with test timeouts, a raw-socket client, and a listener whose
// accept queue is full so connecting to it times out (loopback only, no packet filter needed).
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ClusterConfig, ProxyConfig } from '../../src/config/types.ts';
import { createProxyServer, type ProxyServer } from '../../src/proxy/index.ts';
import type { FailoverStateName, RoutingSnapshot, RoutingSource } from '../../src/routing/types.ts';

export interface Origin {
  server: Server;
  host: string;
  port: number;
  url: string;
  /** Stops accepting and destroys every open connection, like a crashed pod. */
  kill(): Promise<void>;
}

export async function startOrigin(host: string, handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Origin> {
  const server = createServer(handler);
  server.keepAliveTimeout = 30_000;
  server.listen(port, host);
  await once(server, 'listening');
  const bound = (server.address() as { port: number }).port;
  return {
    server, host, port: bound, url: `http://${host}:${bound}`,
    async kill() {
      if (!server.listening) return;
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

export interface FakeRouting extends RoutingSource {
  /** A committed change: `retryTo` is the target of a transition in progress (null at rest), as the real snapshot derives it. */
  set(active: string, state?: FailoverStateName, retryTo?: string | null): void;
  /** A transition to `to` has begun (state failing-over, traffic not switched yet): retries may go to `to`. */
  begin(to: string): void;
}

export function fakeRouting(active: string): FakeRouting {
  let snap: RoutingSnapshot = Object.freeze({ generation: 1, epoch: 0, active, state: 'steady' as FailoverStateName, retryTo: null, stale: false });
  const subs = new Set<(s: RoutingSnapshot) => void>();
  const set = (next: string, state: FailoverStateName = 'steady', retryTo: string | null = state === 'failing-over' || state === 'failing-back' ? next : null) => {
    snap = Object.freeze({ generation: snap.generation + 1, epoch: next === snap.active ? snap.epoch : snap.epoch + 1, active: next, state, retryTo, stale: false });
    for (const fn of subs) fn(snap);
  };
  return {
    current: () => snap,
    subscribe(fn) { subs.add(fn); return () => { subs.delete(fn); }; },
    set,
    begin: (to) => set(snap.active, 'failing-over', to),
  };
}

export function cluster(name: string, upstream: string, hostHeader?: string): ClusterConfig {
  return { name, addresses: [], upstream, hostHeader, probes: [], healthyWhen: { mode: 'all' }, kubernetes: undefined, database: undefined };
}

export interface TestProxy {
  proxy: ProxyServer;
  registry: Registry;
  routing: FakeRouting;
  url: string;
  port: number;
  failures: Array<{ cluster: string; reason: string }>;
  healthy: Map<string, boolean>;
  metric(name: string, labels: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export interface TestProxyOptions {
  clusters: ClusterConfig[];
  active?: string;
  timeouts?: Partial<ProxyConfig['timeouts']>;
  maxHeaderSize?: number;
  maxUrlLength?: number;
  hostnames?: string[];
  maxConnections?: number;
  maxConnectionsPerSource?: number;
  upstreamConnections?: number;
  trustForwarded?: boolean;
}

/** The proxy configuration of the tests: test timeouts, loopback, any port. */
export function testProxyConfig(o: Omit<TestProxyOptions, 'clusters' | 'active'>): ProxyConfig {
  return {
    listen: { host: '127.0.0.1', port: 0, family: 4 },
    timeouts: { connect: 2000, headers: 5000, idle: 5000, clientHeaders: 5000, clientIdle: 5000, ...o.timeouts },
    maxConnections: o.maxConnections ?? 10_000,
    maxConnectionsPerSource: o.maxConnectionsPerSource ?? 10_000,
    upstreamConnections: o.upstreamConnections ?? 256,
    trustForwarded: o.trustForwarded ?? false,
    maxHeaderSize: o.maxHeaderSize ?? 16_384,
    maxUrlLength: o.maxUrlLength ?? 8192,
    workers: 1,
    hostnames: o.hostnames ?? ['app.example.com'],
  };
}

export async function startTestProxy(o: TestProxyOptions): Promise<TestProxy> {
  const registry = new Registry();
  const routing = fakeRouting(o.active ?? o.clusters[0].name);
  const failures: Array<{ cluster: string; reason: string }> = [];
  const healthy = new Map<string, boolean>();
  const proxyConfig = testProxyConfig(o);
  const proxy = createProxyServer({ proxy: proxyConfig, clusters: o.clusters }, {
    routing,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    registry,
    isHealthy: (c) => healthy.get(c) ?? true,
    onUpstreamFailure: (c, reason) => { failures.push({ cluster: c, reason }); },
  });
  await proxy.start();
  const { port } = proxy.address();
  return {
    proxy, registry, routing, failures, healthy, port, url: `http://127.0.0.1:${port}`,
    async metric(name, labels) {
      const m = await registry.getSingleMetric(name)?.get();
      const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => String((x.labels as Record<string, unknown>)[k]) === val));
      return v?.value ?? 0;
    },
    close: () => proxy.close(),
  };
}

/** Sends raw bytes and collects the whole answer until the server closes (bounded by timeoutMs). */
export async function rawExchange(port: number, data: string | Buffer, timeoutMs = 5000): Promise<{ text: string; closed: boolean; ms: number }> {
  const t0 = Date.now();
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(data);
  return collect(socket, timeoutMs, t0);
}

export function collect(socket: Socket, timeoutMs: number, t0 = Date.now()): Promise<{ text: string; closed: boolean; ms: number }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { socket.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: false, ms: Date.now() - t0 }); }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => { clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed: true, ms: Date.now() - t0 }); });
  });
}

/** Parses the header block of a raw HTTP/1.1 response. */
export function parseHead(text: string): { status: number; headers: Map<string, string[]>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end === -1 ? text.length : end).split('\r\n');
  const status = Number(lines[0].split(' ')[1]);
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    const k = line.slice(0, i).trim().toLowerCase();
    headers.set(k, [...(headers.get(k) ?? []), line.slice(i + 1).trim()]);
  }
  return { status, headers, body: end === -1 ? '' : text.slice(end + 4) };
}

const BLACKHOLE_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.listen({ host: workerData.host, port: 0, backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  // Block this thread's event loop so nothing is ever accepted: the kernel queue fills up and
  // later SYNs are dropped, which is exactly a connect that times out.
  Atomics.wait(workerData.flag, 0, 0);
  server.close();
});
`;

export interface Blackhole { host: string; port: number; url: string; close(): Promise<void> }

/** A TCP port on `host` whose accept queue is full: new connections hang in SYN-SENT. */
export async function startBlackhole(host: string): Promise<Blackhole> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(BLACKHOLE_WORKER, { eval: true, workerData: { host, flag } });
  const [port] = (await once(worker, 'message')) as [number];
  const fillers: Socket[] = [];
  const close = async () => {
    for (const s of fillers) s.destroy();
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    await worker.terminate();
  };
  // Fill the accept queue: stop once a connection no longer completes within 300 ms (≤ 8 tries).
  for (let i = 0; i < 8; i++) {
    const s = connect(port, host);
    s.on('error', () => {});
    fillers.push(s);
    const ok = await Promise.race([once(s, 'connect').then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 300))]);
    if (!ok) break;
    if (i === 7) {
      await close();
      throw new Error(`blackhole on ${host}:${port}: the accept queue never filled`);
    }
  }
  return { host, port, url: `http://${host}:${port}`, close };
}
