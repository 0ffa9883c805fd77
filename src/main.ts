// The composition root: builds every part from the configuration and wires them together.
// No other module creates long-lived objects on its own.
import { Registry, collectDefaultMetrics, Gauge } from 'prom-client';
import type { ClusterConfig, Config } from './config/index.ts';
import type { Logger } from './log.ts';
import { createFileStore, createRouting } from './routing/index.ts';
import { createAdminServer, buildStatus } from './admin/index.ts';
import { createHealthMonitor } from './health/index.ts';
import { createDnsServer } from './dns/index.ts';
import { createProxyServer } from './proxy/index.ts';
import { createFailoverController, createStep } from './failover/index.ts';
import type { KubernetesClientCache, KubernetesClientsFor } from './kubernetes.ts';
import { SwitchyardError } from './errors.ts';

export interface Switchyard {
  /** Admin address as bound. */
  adminAddress(): { address: string; port: number };
  /** Stops accepting (DNS, proxy, admin), waits for in-flight work, stops probes and the controller. */
  close(): Promise<void>;
}


export async function startSwitchyard(config: Config, deps: { logger: Logger; env: Readonly<Record<string, string | undefined>> }): Promise<Switchyard> {
  const { logger } = deps;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchyard_' });

  if (config.state.kind !== 'file') {
    // The etcd store, election and observations exist (src/routing, src/failover); the controller does not use them yet (#8).
    throw new SwitchyardError('SWY_CONFIG_INVALID', 'state.etcd: serve cannot run on etcd until the failover controller is wired to the leader election (#8); use state.file for now', { path: 'state.etcd' });
  }
  const store = createFileStore({ file: config.state.file });
  const routing = await createRouting({ store, clusters: config.clusters.map((c) => c.name) });
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
  const controller = createFailoverController({ config }, {
    routing,
    health,
    createStep: (step) => createStep(step, {
      env: deps.env,
      kubernetes: kubernetesClientsFor && { logger: logger.child({ module: 'failover' }), clientsFor: kubernetesClientsFor },
    }),
    logger,
    registry,
  });
  const dns = createDnsServer({ zone: config.zone, hostnames: config.hostnames, clusters: config.clusters, dns: config.dns }, { routing, logger, registry });

  const proxy = config.proxy === undefined ? undefined : createProxyServer({ proxy: config.proxy, clusters: config.clusters }, {
    routing, logger, registry,
    isHealthy: (name) => health.clusters().find((c) => c.name === name)?.healthy !== false,
    onUpstreamFailure: (cluster, reason) => health.reportPassiveFailure(cluster, reason),
  });
  let ready = false;
  const admin = createAdminServer({ admin: config.admin }, {
    logger,
    registry,
    status: () => buildStatus(routing.state(), config, health.clusters()),
    ready: () => ready,
    actions: controller,
  });

  // Started in order, closed in reverse: answers first, then the probes that feed the controller.
  const started: Array<{ name: string; close: () => Promise<void> }> = [];
  try {
    await dns.start();
    started.push({ name: 'dns', close: () => dns.close() });
    if (proxy) {
      await proxy.start();
      started.push({ name: 'proxy', close: () => proxy.close() });
    }
    health.start();
    started.push({ name: 'health', close: () => health.stop() });
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
