// The composition root: builds every part from the configuration and wires them together.
// No other module creates long-lived objects on its own.
import { Registry, collectDefaultMetrics, Counter, Gauge } from './prom-client-parts.ts';
import { configSecrets, envSecrets, redactText, type ClusterConfig, type Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { setTimeout as delay } from 'node:timers/promises';
import {
  createEtcdStateStore, createFileStore, createLeaseSession, createRouting, createStateLock, initialState,
  type EtcdClient, type LeaseSession, type Routing, type SharedStateStore, type StateStore, type StoreEvent,
} from './routing/index.ts';
import { createAdminServer, buildStatus, type CoordinationView, type ParityStatus } from './admin/index.ts';
import { createHealthMonitor } from './health/index.ts';
import { answerTtl, createDnsServer, createDnsWorkers } from './dns/index.ts';
import { createProxyServer, createProxyWorkers } from './proxy/index.ts';
import {
  createDatabaseObserver, createFailoverController, createLeaderElection, createNotifier, createObservations, createPositionFile, createPositionKey, createStep,
  electionTiming, positionsFileFor, quorumDecision, type LeaderElection, type Observations,
} from './failover/index.ts';
import type { KubernetesClientCache, KubernetesClientsFor } from './kubernetes.ts';
import { readFdLimit, splitFdBudget } from './fd-budget.ts';
import { createAddressBook } from './addresses/index.ts';
import { createParityMonitor } from './parity/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from './errors.ts';

export interface Switchyard {
  /** Admin address as bound. */
  adminAddress(): { address: string; port: number };
  /** Stops accepting (DNS, proxy, admin), waits for in-flight work, stops probes and the controller. */
  close(): Promise<void>;
}


/** How often the state file is checked (still there, still ours) and, while writes fail, rewritten. */
const STORE_CHECK_MS = 5000;

/** Observations older than this many health intervals (on the leader's clock) are stale: not counted toward the quorum. */
const OBSERVATION_MAX_AGE_INTERVALS = 3;

/** How long a starting instance on etcd waits for a committed routing state (the leader writes the first one). */
const FIRST_STATE_WAIT_MS = 60_000;

/** The parts several instances share through etcd (state.etcd). */
interface Shared {
  client: EtcdClient;
  session: LeaseSession;
  election: LeaderElection;
  store: SharedStateStore;
}

/**
 * Waits until the shared store holds a committed routing state. Only the leader may write the
 * first one (its save is guarded; a follower's would be refused with SWY_STORE_NOT_LEADER), so a
 * follower never answers from a state nobody committed: it waits for the leader's. Bounded.
 */
async function awaitCommittedState(shared: Shared, primary: string, retryMs: number, logger: Logger): Promise<void> {
  const deadline = performance.now() + FIRST_STATE_WAIT_MS;
  let why = 'no leader yet';
  for (;;) {
    try {
      if (await shared.store.load() !== null) return;
      if (shared.election.term() !== null) {
        await shared.store.save(initialState(primary, new Date()), 0);
        logger.info({ store: shared.store.description, term: shared.election.term() }, `first start on this store: wrote the initial routing state (${primary} active)`);
        return;
      }
      const leader = shared.election.leader();
      why = leader ? `${leader.name} leads (term ${leader.term}) but has not written it yet` : 'no leader yet';
    } catch (err) {
      // A conflict means another instance wrote it first: the next load finds it.
      if (!isSwitchyardError(err, 'SWY_STATE_CONFLICT') && !isSwitchyardError(err, 'SWY_STORE_NOT_LEADER')) why = describeError(err);
    }
    if (performance.now() > deadline) {
      throw new SwitchyardError('SWY_STORE_UNAVAILABLE', `no committed routing state in ${shared.store.description} within ${FIRST_STATE_WAIT_MS / 1000} s (${why}); an instance on etcd answers only what was committed`, { store: shared.store.description });
    }
    await delay(retryMs);
  }
}

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

  const stateConfig = config.state;
  const stateFile = stateConfig.kind === 'file' ? stateConfig.file : undefined;
  const storeName = stateConfig.kind === 'file' ? stateConfig.file : `etcd ${stateConfig.endpoints.join(',')} ${stateConfig.prefix}`;

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
      logger.error({ code: e.code, store: storeName }, `routing state store failing: ${e.message}`);
      notifier.notify({ kind: 'store-failure', severity: 'critical', code: e.code, summary: e.message });
    } else if (e.kind === 'recovered') {
      storeHealthy.set(1);
      logger.warn({ store: storeName }, e.message);
      notifier.notify({ kind: 'store-recovered', severity: 'info', summary: e.message });
    } else {
      storeRestores.inc();
      logger.error({ code: e.code, store: storeName }, e.message);
      notifier.notify({ kind: 'store-failure', severity: 'critical', code: e.code, summary: e.message });
    }
  };

  // File: one serve per state file (a second one would answer differently for ever). etcd: the
  // lease session, the leader election and the guarded state store; every instance waits for a
  // committed state, then serves what the store's watch delivers.
  const lock = stateFile === undefined ? undefined : createStateLock({
    file: stateFile,
    onProblem: (message) => {
      logger.error({ store: stateFile }, message);
      if (!message.startsWith('took over')) notifier.notify({ kind: 'store-failure', severity: 'critical', code: 'SWY_STATE_LOCKED', summary: message });
    },
  });
  let shared: Shared | undefined;
  let store: StateStore;
  let routing: Routing;
  try {
    if (stateConfig.kind === 'file') {
      await lock!.acquire();
      store = createFileStore({ file: stateConfig.file });
    } else {
      // Loaded only here: the etcd client brings undici's full index, which one instance on a file never needs.
      const { createEtcdClient, loadEtcdTls } = await import('./routing/etcd-client.ts');
      const tls = stateConfig.tls ? await loadEtcdTls(stateConfig.tls) : undefined;
      const client = createEtcdClient({ endpoints: stateConfig.endpoints, tls, username: stateConfig.username, password: stateConfig.password });
      const timing = electionTiming(stateConfig.leaseTtl);
      const session = createLeaseSession({ ttlSeconds: stateConfig.leaseTtl, keepAliveEvery: timing.retryPeriod }, { store: client, logger });
      const election = createLeaderElection({ prefix: stateConfig.prefix, instance: config.instance.name, timing }, { store: client, session, logger });
      const sharedStore = createEtcdStateStore({ prefix: stateConfig.prefix }, { store: client, guard: () => election.guard(), onGuardRefused: (reason) => election.refused(reason) });
      shared = { client, session, election, store: sharedStore };
      store = sharedStore;
      session.start();
      election.start();
      logger.info({ instance: config.instance.name, store: sharedStore.description, leaseTtl: stateConfig.leaseTtl }, `instance ${config.instance.name} on ${sharedStore.description}: campaigning for leadership`);
      await awaitCommittedState(shared, config.clusters[0].name, Math.max(100, Math.floor(timing.retryPeriod / 2)), logger);
    }
    routing = await createRouting({ store, clusters: config.clusters.map((c) => c.name), onStoreEvent });
  } catch (err) {
    if (shared) {
      await shared.election.stop().catch(() => {});
      await shared.session.stop().catch(() => {});
      await shared.client.close().catch(() => {});
    }
    await lock?.release();
    await notifier.close(0);
    throw err;
  }
  if (!shared) routing.startChecks(STORE_CHECK_MS);
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

  // Every instance serves what the leader committed, as the watch delivers it; the snapshot is
  // stale (shortened DNS TTL) while the store cannot be reached.
  const sharedParts: Array<{ name: string; close: () => Promise<void> }> = [];
  let unreachableSince: string | null = null;
  let reload: (() => Promise<void>) | undefined;
  if (shared) {
    const { client, session, election, store: sharedStore } = shared;
    sharedParts.push({ name: 'etcd client', close: () => client.close() });
    sharedParts.push({ name: 'lease session', close: () => session.stop() });
    sharedParts.push({ name: 'leader election', close: () => election.stop() });
    const adopt = (s: Parameters<Routing['adopt']>[0], why: string) => {
      try {
        const before = routing.current();
        if (routing.adopt(s)) logger.info({ generation: s.generation, active: s.active, state: s.state, from: before.active }, `adopted the committed routing state (${why}): generation ${s.generation}, ${s.active} active, ${s.state}`);
      } catch (err) {
        logger.error({ err: describeError(err), generation: s.generation }, `cannot adopt the committed routing state: ${describeError(err)}`);
      }
    };
    const watch = sharedStore.watch((s) => adopt(s, 'watch'), (err) => logger.warn({ err: describeError(err) }, `routing state watch: ${describeError(err)}; it re-opens from its revision`));
    sharedParts.push({ name: 'routing state watch', close: () => watch.stop() });
    routing.setStoreReachable(session.reachable());
    if (!session.reachable()) unreachableSince = new Date().toISOString();
    session.onReachability((ok) => {
      routing.setStoreReachable(ok);
      const short = answerTtl('steady', config.zone.ttl, true);
      if (ok) {
        unreachableSince = null;
        onStoreEvent({ kind: 'recovered', message: `the shared store is reachable again (${sharedStore.description}): answers use the normal TTL, decisions resume` });
      } else {
        unreachableSince = new Date().toISOString();
        onStoreEvent({ kind: 'failure', code: 'SWY_STORE_UNAVAILABLE', message: `cannot reach ${sharedStore.description} (${session.lastError() ?? 'no answer'}): serving the last committed state (generation ${routing.current().generation}, ${routing.current().active} active) with the shortened TTL ${short} s; no decision is taken` });
      }
    });
    new Gauge({ name: 'switchyard_failover_leader', help: '1 while this instance leads and may act, else 0', registers: [registry], collect() { this.set(election.term() === null ? 0 : 1); } });
    new Gauge({ name: 'switchyard_failover_term', help: 'Term of the leader as this instance last saw it (the leader key\'s create revision; only increases); 0: none known', registers: [registry], collect() { this.set(election.leader()?.term ?? 0); } });
    new Gauge({ name: 'switchyard_routing_store_reachable', help: '1 while this instance\'s lease keep-alives reach etcd, 0 while not (it serves the last committed state with the shortened TTL): alert on 0', registers: [registry], collect() { this.set(session.reachable() ? 1 : 0); } });
    // A new leader (and a writer refused as a conflict) starts from what is stored, not from what its watch last delivered.
    reload = async () => {
      const s = await sharedStore.load();
      if (s) adopt(s, 'read from the store');
    };
  }

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
    routing, logger, registry,
    store: stateConfig.kind === 'file' ? createPositionFile({ file: positionsFileFor(stateConfig.file) }) : createPositionKey({ key: `${stateConfig.prefix}/positions/${config.instance.name}` }, { store: shared!.client }),
  });
  // Parity: compared every parity.interval, and afresh as the `parity` move precheck.
  const parity = config.parity && kubernetesClientsFor
    ? createParityMonitor({ parity: config.parity, clusters: config.clusters }, { clientsFor: kubernetesClientsFor, logger, registry })
    : undefined;
  // Every instance publishes its own verdicts; the leader's quorum counts the fresh ones.
  const observations: Observations | undefined = shared && stateConfig.kind === 'etcd'
    ? createObservations({ prefix: stateConfig.prefix, instance: config.instance.name, publishEvery: config.health.interval }, {
      store: shared.client, session: shared.session, logger,
      verdicts: () => Object.fromEntries(health.clusters().map((c) => [c.name, c.healthy])),
    })
    : undefined;
  // An observation counts toward the quorum while this instance saw it change within this long.
  const observationMaxAge = OBSERVATION_MAX_AGE_INTERVALS * config.health.interval;
  if (observations) {
    new Gauge({
      name: 'switchyard_failover_observation_age_seconds', help: 'Per observing instance (label observer: its instance.name): seconds since this instance saw its observation change (on this instance\'s clock); past 3 health intervals it does not count toward the quorum', labelNames: ['observer'], registers: [registry],
      collect() {
        this.reset();
        const t = performance.now();
        for (const e of observations.seen()) this.labels(e.instance).set((t - e.seenAt) / 1000);
      },
    });
  }
  const coordinationView = (): CoordinationView | null => {
    if (!shared || !observations) return null;
    const t = performance.now();
    const leader = shared.election.leader();
    const snap = routing.current();
    return {
      leader: leader && { name: leader.name, term: leader.term },
      leading: shared.election.term() !== null,
      term: shared.election.term(),
      storeReachable: shared.session.reachable(),
      storeError: shared.session.reachable() ? null : shared.session.lastError(),
      unreachableSince,
      answerTtl: answerTtl(snap.state, config.zone.ttl, snap.stale),
      instances: config.failover.instances,
      quorum: config.failover.quorum,
      observations: observations.seen().map((e) => ({
        instance: e.instance, verdicts: { ...e.verdicts }, at: e.observation.at,
        ageSeconds: Math.round((t - e.seenAt) / 100) / 10, fresh: t - e.seenAt <= observationMaxAge,
      })).sort((a, b) => a.instance.localeCompare(b.instance)),
    };
  };
  const storeView = () => {
    const own = { ...routing.storeStatus(), description: store.description };
    if (!shared || unreachableSince === null) return own;
    return { ...own, ok: false, since: unreachableSince, error: { code: 'SWY_STORE_UNAVAILABLE', message: `${shared.session.lastError() ?? 'no answer'}; serving the last committed state with the shortened TTL, no decision is taken` } };
  };
  const controller = createFailoverController({ config, refenceIntervalMs: config.health.interval, instance: config.instance.name }, {
    leadership: shared?.election,
    reload,
    // An automatic failover needs failover.quorum fresh observations (one per instance, judged on this instance's clock) to agree.
    quorum: observations && ((active, target) => quorumDecision({ observations: observations.seen(), now: performance.now(), maxAge: observationMaxAge, quorum: config.failover.quorum, active, target })),
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
  // The console's and /v1/status's parity line: the last periodic comparison (none with interval 0s).
  const parityView = (): ParityStatus | null => {
    if (!parity || config.parity!.interval === 0) return null;
    const last = parity.last();
    return { checkedAt: last.at ?? null, error: last.error ?? null, reports: last.reports };
  };
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
    status: () => buildStatus(routing.state(), { ...config, clusters: clustersNow() }, health.clusters(), storeView(), observer.databases(), coordinationView(), parityView()),
    ready: () => ready,
    actions: controller,
  });

  // Started in order, closed in reverse: answers first, then the probes that feed the controller.
  const started: Array<{ name: string; close: () => Promise<void> }> = [
    ...(lock ? [{ name: 'state lock', close: () => lock.release() }] : []),
    ...sharedParts,
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
    if (observations) {
      await observations.start();
      const off = health.subscribe(() => observations.publish());
      started.push({ name: 'observations', close: async () => { off(); await observations.stop(); } });
    }
    await observer.start();
    started.push({ name: 'database observer', close: () => observer.stop() });
    if (parity) {
      parity.start();
      started.push({ name: 'parity', close: () => parity.stop() });
    }
    started.push({ name: 'kubernetes clients', close: async () => { await Promise.allSettled([...kubernetesClients.values()].map((c) => c.close())); } });
    // Closed right after the controller: the leader key goes at once, so another instance takes over without waiting for the lease.
    if (shared) started.push({ name: 'leadership', close: () => shared.election.stop() });
    controller.start();
    // The leader re-evaluates as soon as another instance's verdicts change, not at the next tick.
    const offObservations = observations?.onChange(() => { void controller.evaluate(); });
    started.push({ name: 'failover controller', close: async () => { offObservations?.(); await controller.stop(); } });
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
