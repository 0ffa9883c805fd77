// Validation and normalisation of the whole configuration: the composition of the areas' slices
// (src/<area>/config.ts, each declared with schema.ts), the top-level keys that belong to no area
// (log, limits), and the checks between slices. Pure: takes the parsed YAML (after ${VAR}
// substitution) and the config file's folder, returns a Config or the list of issues.
import { hostname } from 'node:os';
import { isAbsolute, resolve } from 'node:path';
import type { Config } from './types.ts';
import * as s from './schema.ts';
import { mapping, type Issues } from './fields.ts';
import { adminSchema, readAdmin } from '../admin/config.ts';
import { dnsSchema, hostnamesSchema, readDns, readHostnames, readZone, zoneSchema } from '../dns/config.ts';
import { checkZoneRecords } from '../dns/config-records.ts';
import { failoverSchema, notifySchema, readFailover, readNotify } from '../failover/config.ts';
import { clusterFacts, clustersSchema, healthSchema, readClusters, readHealth } from '../health/config.ts';
import { paritySchema, readParity } from '../parity/config.ts';
import { proxySchema, readProxy } from '../proxy/config.ts';
import { instanceSchema, readInstance, readState, stateSchema } from '../routing/config.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const logSchema = s.object({
  level: s.oneOf(LOG_LEVELS, { default: 'info', description: 'JSON log lines (pino) on stdout. Transitions and traffic switches log at `warn`, holds at `error`, probe verdict changes at `warn`/`info`; single failed checks only at `debug`' }),
}, { default: {}, description: 'What switchyard logs.' });

const limitsSchema = s.object({
  reservedFileDescriptors: s.integer(32, 1_000_000, { default: 256, description: 'descriptors kept out of the proxy and DNS-over-TCP shares' }),
}, { default: {}, description: "Resource limits of the process." });

/**
 * The whole configuration's schema, composed from the slices in document order. `abs` resolves
 * relative paths (the JSON Schema does not depend on it).
 */
export function configSchema(abs?: (p: string) => string) {
  return s.object({
    zone: zoneSchema,
    hostnames: hostnamesSchema,
    clusters: clustersSchema(abs),
    health: healthSchema,
    failover: failoverSchema,
    notify: notifySchema,
    parity: s.optional(paritySchema),
    dns: dnsSchema,
    proxy: s.optional(proxySchema),
    admin: adminSchema,
    state: stateSchema,
    instance: instanceSchema,
    log: logSchema,
    limits: limitsSchema,
  }, { description: 'switchyard configuration' });
}

/** The JSON Schema of the configuration file, as `switchyard schema` prints it and schema/switchyard.schema.json holds it. */
export function configJsonSchema(): Record<string, unknown> {
  return s.jsonSchema(configSchema(), {
    title: 'switchyard configuration',
    description: 'The configuration file of switchyard (`switchyard serve --config FILE`). Reference: docs/configuration.md. Besides what this schema says, `switchyard validate` checks what depends on several keys (names inside the zone, steps against clusters, the admin token off loopback).',
  });
}

export interface ValidateOptions {
  baseDir: string;
  adminToken: string | undefined;
  /** The default instance.name (the host name when not given). */
  hostName?: string;
}

export function validateConfig(raw: unknown, opts: ValidateOptions): { config?: Config; issues: Issues } {
  const issues: Issues = [];
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(opts.baseDir, p));
  const schema = configSchema(abs);
  const root = mapping(raw ?? {}, '', issues, Object.keys(schema.properties as object));
  if (!root) return { issues };
  const given = (key: string): unknown => root[key] ?? undefined;
  const req = (key: string): unknown => {
    if (root[key] === undefined || root[key] === null) issues.push({ path: key, message: 'is required' });
    return root[key] ?? undefined;
  };

  const recordPaths: string[] = [];
  const rawZone = req('zone');
  const zone = rawZone === undefined ? undefined : readZone(rawZone, issues, recordPaths);
  const rawHostnames = req('hostnames');
  const zoneName = zone?.name ?? (typeof (rawZone as { name?: unknown } | undefined)?.name === 'string' ? String((rawZone as { name: string }).name).toLowerCase().replace(/\.$/, '') : undefined);
  const hostnames = rawHostnames === undefined ? undefined : readHostnames(rawHostnames, zoneName, issues);
  if (zone?.records && hostnames) checkZoneRecords(zone.records, recordPaths, zone, hostnames, issues);
  const rawClusters = req('clusters');
  const clusters = rawClusters === undefined ? undefined : readClusters(rawClusters, issues, abs);
  // The checks of other slices against the clusters run on the clusters as written, so they are
  // reported beside a cluster's own errors.
  const facts = clusterFacts(rawClusters);
  const health = readHealth(given('health') ?? {}, issues);
  const failover = readFailover(given('failover') ?? {}, facts, issues);
  const notify = readNotify(given('notify'), issues);
  const parity = given('parity') === undefined ? undefined : readParity(root.parity, facts?.map((c) => c.kubernetes), issues);
  const prechecks = (root.failover as { prechecks?: unknown } | undefined)?.prechecks;
  if (Array.isArray(prechecks) && prechecks.includes('parity') && given('parity') === undefined) issues.push({ path: 'failover.prechecks', message: 'parity needs a parity section naming what to compare' });
  const dns = readDns(given('dns') ?? {}, issues);
  // Worker threads rebuild their answers from the routing state alone; addresses watched from
  // Kubernetes reach only the main thread's answer table.
  if (dns && dns.workers > 1 && clusters?.some((c) => c.addressesFrom !== undefined)) {
    issues.push({ path: 'dns.workers', message: 'must be 1 while a cluster takes its addresses from a Service or Ingress (worker threads do not follow them yet)' });
  }
  const proxy = given('proxy') === undefined ? undefined : readProxy(root.proxy, facts?.map((c) => c.upstream), hostnames, issues);
  const admin = readAdmin(given('admin') ?? {}, opts.adminToken, issues);
  const state = readState(given('state') ?? {}, zone?.name, issues, abs);
  const instance = readInstance(given('instance') ?? {}, opts.hostName ?? hostname(), issues);
  if (failover && state && failover.instances > 1 && state.kind !== 'etcd') {
    issues.push({ path: 'failover.instances', message: `${failover.instances} instances need a shared store: set state.etcd (a state file serves one instance)` });
  }
  const log = s.readNode(logSchema, given('log') ?? {}, 'log', issues);
  const limits = s.readNode(limitsSchema, given('limits') ?? {}, 'limits', issues);

  if (issues.length > 0 || !zone || !hostnames || !clusters || !health || !failover || !notify || !dns || !admin || !state || !instance || !log || !limits) {
    if (issues.length === 0) issues.push({ path: '(root)', message: 'invalid configuration' });
    return { issues };
  }
  return { config: { limits, zone, hostnames, clusters, health, failover, notify, parity, dns, proxy, admin, state, instance, log }, issues };
}
