// The composition root: builds every part from the configuration and wires them together.
// No other module creates long-lived objects on its own.
import { Registry, collectDefaultMetrics, Counter, Gauge } from 'prom-client';
import { configSecrets, envSecrets, redactText, type ClusterConfig, type Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { createFileStore, createRouting, createStateLock, type StoreEvent } from './routing/index.ts';
import { createAdminServer, buildStatus } from './admin/index.ts';
import { createHealthMonitor } from './health/index.ts';
import { createDnsServer, createDnsWorkers } from './dns/index.ts';
import { createProxyServer, createProxyWorkers } from './proxy/index.ts';
import { createDatabaseObserver, createFailoverController, createNotifier, createPositionFile, createStep, positionsFileFor } from './failover/index.ts';
import type { KubernetesClientCache, KubernetesClientsFor } from './kubernetes.ts';
import { readFdLimit, splitFdBudget } from './fd-budget.ts';
import { createAddressBook } from './addresses/index.ts';
import { createParityMonitor } from './parity/index.ts';
import { SwitchyardError } from './errors.ts';

export interface Switchyard {
  /** Admin address as bound. */
  adminAddress(): { address: string; port: number };
  /** Stops accepting (DNS, proxy, admin), waits for in-flight work, stops probes and the controller. */
  close(): Promise<void>;
}


/** How often the state file is checked (still there, still ours) and, while writes fail, rewritten. */
const STORE_CHECK_MS = 5000;

/** The config with the proxy and DNS-over-TCP caps lowered, where needed, to fit the open-file limit. */
function withinFdBudget(config: Config, limit: number | undefined, logger: Logger): Config {
  const budget = splitFdBudget({
    limit,
    reserved: config.limits.reservedFileDescriptors,
    listeners: config.dns.listen.length * 2 * config.dns.workers + 1 + (config.proxy?.workers ?? 0),
    dnsTcp: config.dns.tcp.maxConnections,
    upstreamConnections: config.proxy?.upstreamConnections ?? 0,
    pools: config.proxy ? config.clusters.length : 0,
    proxyClients: config.proxy?.maxConnections ?? 0,
  });
  const fields = { fdLimit: limit ?? 'unknown', reserved: config.limits.reservedFileDescriptors, dnsTcp: budget.dnsTcp, proxyClients: budget.proxyClients, upstreamConnections: budget.upstreamConnections };
  if (budget.lowered.length > 0) logger.warn({ ...fields, lowered: budget.lowered }, `open-file limit ${limit}: lowered ${budget.lowered.join(', ')} so that admin, probes, the store and DNS keep descriptors when the proxy is full (raise ulimit -n to serve more)`);
  else logger.info(fields, `file-descriptor budget: limit ${limit ?? 'unknown'}, ${config.limits.reservedFileDescriptors} reserved, DNS over TCP ${budget.dnsTcp}${config.proxy ? `, proxy ${budget.proxyClients} clients + ${budget.upstreamConnections} per upstream pool` : ''}`);
  return {
    ...config,
    dns: { ...config.dns, tcp: { ...config.dns.tcp, maxConnections: budget.dnsTcp, maxConnectionsPerSource: Math.min(config.dns.tcp.maxConnectionsPerSource, budget.dnsTcp) } },
    proxy: config.proxy && { ...config.proxy, maxConnections: budget.proxyClients, upstreamConnections: budget.upstreamConnections, maxConnectionsPerSource: Math.min(config.proxy.maxConnectionsPerSource, budget.proxyClients) },
  };
}

export async function startSwitchyard(input: Config, deps: { logger: Logger; env: Readonly<Record<string, string | undefined>>; fdLimit?: number }): Promise<Switchyard> {
  const { logger } = deps;
  const config = withinFdBudget(input, deps.fdLimit ?? readFdLimit(), logger);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });

  if (config.state.kind !== 'file') {
    // The etcd store, election and observations exist (src/routing, src/failover); the controller does not use them yet (#8).
    throw new SwitchyardError('SWY_CONFIG_INVALID', 'state.etcd: serve cannot run on etcd until the failover controller is wired to the leader election (#8); use state.file for now', { path: 'state.etcd' });
  }
  const stateFile = config.state.file;

  // Hook output is logged; these values (and credential patterns) never are.
  const secrets = [...new Set([...configSecrets(config), ...envSecrets(deps.env)])].sort((a, b) => b.length - a.length);
  const redact = (text: string) => redactText(text, secrets);
  // People are told (holds, completed moves, an unfenced old primary, store failures); never blocking.
  const notifier = createNotifier({ notify: config.notify }, { logger, registry, env: deps.env, redact });
  const storeHealthy = new Gauge({ name: 'switchyard_routing_store_healthy', help: '1 while the routing state is being written, 0 after a failed write (or a state file changed underneath): alert on 0', registers: [registry] });
  const storeFailures = new Counter({ name: 'switchyard_routing_store_failures_total', help: 'Times the routing state store started failing (write failed, file changed underneath)', registers: [registry] });
  const storeRestores = new Counter({ name: 'switchyard_routing_store_restores_total', help: 'Times the state file was found missing and rewritten from memory (or restored from its copy at start): alert on any', registers: [registry] });
  storeHealthy.set(1);
  const onStoreEvent = (e: StoreEvent) => {
    if (e.kind === 'failure') {
      storeHealthy.set(0);
      storeFailures.inc();
      logger.error({ code: e.code, store: stateFile }, `routing state store failing: ${e.message}`);
      notifier.notify({ kind: 'store-failure', severity: 'critical', code: e.code, summary: e.message });
    } else if (e.kind === 'recovered') {
      storeHealthy.set(1);
      logger.warn({ store: stateFile }, e.message);
      notifier.notify({ kind: 'store-recovered', severity: 'info', summary: e.message });
    } else {
      storeRestores.inc();
      logger.error({ code: e.code, store: stateFile }, e.message);
      notifier.notify({ kind: 'store-failure', severity: 'critical', code: e.code, summary: e.message });
    }
  };

  // One serve per state file: a second one would answer differently for ever.
  const lock = createStateLock({
    file: stateFile,
    onProblem: (message) => {
      logger.error({ store: stateFile }, message);
      if (!message.startsWith('took over')) notifier.notify({ kind: 'store-failure', severity: 'critical', code: 'SWY_STATE_LOCKED', summary: message });
    },
  });
  await lock.acquire();
  const store = createFileStore({ file: stateFile });
  let routing;
  try {
    routing = await createRouting({ store, clusters: config.clusters.map((c) => c.name), onStoreEvent });
  } catch (err) {
    await lock.release();
    await notifier.close(0);
    throw err;
  }
  routing.startChecks(STORE_CHECK_MS);
  const generation = new Gauge({ name: 'switchyard_routing_generation', help: 'Generation of the routing state in force', registers: [registry] });
  const activeGauge = new Gauge({ name: 'switchyard_routing_active', help: '1 for the cluster traffic goes to, 0 for the others', labelNames: ['cluster'], registers: [registry] });
  const showRouting = () => {
    const s = routing.current();
    generation.set(s.generation);
    for (const c of config.clusters) activeGauge.labels(c.name).set(c.name === s.active ? 1 : 0);
  };
  showRouting();
  routing.subscribe(showRouting);
  logger.info({ active: routing.current().active, state: routing.current().state, generation: routing.current().generation, store: store.description }, `routing state loaded: ${routing.current().active} is active`);

  // @kubernetes/client-node (about 85 MiB of memory) is loaded only when a cluster has kubernetes
  // settings. Config validation guarantees them for every cluster a kubernetes probe or a
  // kubernetes-scale step acts on, and the probe and the step check again before asking.
  const kubernetesClients: KubernetesClientCache = new Map();
  const kube = config.clusters.some((c) => c.kubernetes !== undefined) ? await import('./kubernetes.ts') : undefined;
  const kubernetesClientsFor: KubernetesClientsFor | undefined = kube && ((cluster: ClusterConfig) => kube.createKubernetesClients(cluster.kubernetes!, { cache: kubernetesClients }));
  const health = createHealthMonitor({ clusters: config.clusters, health: config.health }, { logger, registry, kubernetesClientsFor });
  // Addresses from a Service or Ingress: watched in the cluster's own context; DNS rebuilds its answers on a change.
  const addressBook = kubernetesClientsFor && config.clusters.some((c) => c.addressesFrom !== undefined)
    ? createAddressBook({ clusters: config.clusters }, { clientsFor: kubernetesClientsFor, logger, registry })
    : undefined;
  // dns.workers > 1: worker threads answer; switch-traffic is journaled done only once all of
  // them serve the new generation (in-process answers swap synchronously on the commit itself).
  const dnsOptions = { zone: config.zone, hostnames: config.hostnames, clusters: config.clusters, dns: config.dns };
  const dnsWorkers = config.dns.workers > 1 ? createDnsWorkers(dnsOptions, { routing, logger, registry, workers: config.dns.workers }) : undefined;
  const dns = dnsWorkers ?? createDnsServer(dnsOptions, { routing, logger, registry, addresses: addressBook });
  // The source database's WAL position, recorded every health interval beside the state file,
  // judges a promotion when the source no longer answers (postgres-promote).
  const observer = createDatabaseObserver({ clusters: config.clusters, intervalMs: config.health.interval, timeoutMs: Math.max(1000, config.health.timeout) }, {
    routing, store: createPositionFile({ file: positionsFileFor(stateFile) }), logger, registry,
  });
  // Parity: compared every parity.interval, and afresh as the `parity` move precheck.
  const parity = config.parity && kubernetesClientsFor
    ? createParityMonitor({ parity: config.parity, clusters: config.clusters }, { clientsFor: kubernetesClientsFor, logger, registry })
    : undefined;
  const controller = createFailoverController({ config, refenceIntervalMs: config.health.interval }, {
    prechecks: parity && config.failover.prechecks?.includes('parity') ? [parity.precheck] : [],
    routing,
    health,
    createStep: (step) => createStep(step, {
      env: deps.env,
      redact,
      positions: observer,
      kubernetes: kubernetesClientsFor && { logger: logger.child({ module: 'failover' }), clientsFor: kubernetesClientsFor },
    }),
    logger,
    registry,
    notify: notifier,
    // Every answering thread, DNS and proxy: switch-traffic is done when all of them serve it.
    awaitTraffic: config.dns.workers > 1 || (config.proxy?.workers ?? 1) > 1
      ? async (generation, signal) => { await Promise.all([dnsWorkers?.awaitGeneration(generation, signal), proxyWorkers?.awaitGeneration(generation, signal)]); }
      : undefined,
  });
  const clustersNow = () => {
    if (!addressBook) return config.clusters;
    const now = addressBook.current();
    return config.clusters.map((c) => (c.addressesFrom ? { ...c, addresses: [...(now.get(c.name) ?? [])] } : c));
  };

  const proxyDeps = {
    routing, logger, registry,
    isHealthy: (name: string) => health.clusters().find((c) => c.name === name)?.healthy !== false,
    onUpstreamFailure: (cluster: string, reason: string) => health.reportPassiveFailure(cluster, reason),
  };
  // proxy.workers > 1: worker threads forward, with the health verdicts copied to them on every change.
  const proxyWorkers = config.proxy && config.proxy.workers > 1
    ? createProxyWorkers({ proxy: config.proxy, clusters: config.clusters }, { ...proxyDeps, workers: config.proxy.workers, healthChanges: (fn) => health.subscribe(fn) })
    : undefined;
  const proxy = proxyWorkers ?? (config.proxy === undefined ? undefined : createProxyServer({ proxy: config.proxy, clusters: config.clusters }, proxyDeps));
  let ready = false;
  const admin = createAdminServer({ admin: config.admin }, {
    logger,
    registry,
    status: () => buildStatus(routing.state(), { ...config, clusters: clustersNow() }, health.clusters(), { ...routing.storeStatus(), description: store.description }),
    ready: () => ready,
    actions: controller,
  });

  // Started in order, closed in reverse: answers first, then the probes that feed the controller.
  const started: Array<{ name: string; close: () => Promise<void> }> = [
    { name: 'state lock', close: () => lock.release() },
    { name: 'state store checks', close: async () => routing.stopChecks() },
    { name: 'notifications', close: () => notifier.close() },
  ];
  try {
    if (addressBook) {
      addressBook.start();
      started.push({ name: 'address book', close: () => addressBook.stop() });
    }
    await dns.start();
    started.push({ name: 'dns', close: () => dns.close() });
    if (proxy) {
      await proxy.start();
      started.push({ name: 'proxy', close: () => proxy.close() });
    }
    health.start();
    started.push({ name: 'health', close: () => health.stop() });
    await observer.start();
    started.push({ name: 'database observer', close: () => observer.stop() });
    if (parity) {
      parity.start();
      started.push({ name: 'parity', close: () => parity.stop() });
    }
    started.push({ name: 'kubernetes clients', close: async () => { await Promise.allSettled([...kubernetesClients.values()].map((c) => c.close())); } });
    controller.start();
    started.push({ name: 'failover controller', close: () => controller.stop() });
    await admin.start();
    started.push({ name: 'admin', close: () => admin.close() });
  } catch (err) {
    for (const s of started.reverse()) await s.close().catch(() => {});
    throw err;
  }
  ready = true;
  logger.info({ admin: admin.address(), dns: dns.addresses() }, `switchyard is serving: ${config.hostnames.join(', ')} → ${routing.current().active}`);

  return {
    adminAddress: () => admin.address(),
    async close() {
      ready = false;
      if (config.admin.shutdownDelay > 0) {
        logger.info({ delayMs: config.admin.shutdownDelay }, 'lame duck: readyz reports not ready before listeners close');
        await new Promise((r) => setTimeout(r, config.admin.shutdownDelay));
      }
      for (const s of started.reverse()) {
        try { await s.close(); } catch (err) { logger.warn({ err, part: s.name }, `closing ${s.name} failed`); }
      }
    },
  };
}
