// The failover slice of the configuration: `failover` (automation, cooldown, prechecks, how many
// instances share the decision), its `steps`, and `notify` (who is told, never blocking).
// Declared once with src/config/schema.ts; src/config composes it.
import * as s from '../config/schema.ts';
import { join, mapping, type Issues } from '../config/fields.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Patroni's maximum_lag_on_failover default: 1 MiB. */
const DEFAULT_MAX_LAG_BYTES = 1_048_576;
const STEP_NAME = /^[a-z0-9][a-z0-9-]*$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export type OnFailure = 'hold' | 'continue';
/** `nologin`: application roles lose LOGIN (holds against every non-superuser client); `read-only`: default_transaction_read_only (weaker: a client can undo it). */
export type PostgresFenceMode = 'nologin' | 'read-only';
interface StepCommon { name: string; timeout: number; retries: number; backoff: number; onFailure: OnFailure }
export type StepConfig = StepCommon & (
  | { type: 'switch-traffic' }
  | { type: 'kubernetes-scale'; namespace: string; deployments: string[]; hpas: string[]; replicas: number; wait: boolean }
  | { type: 'postgres-fence'; mode: PostgresFenceMode; terminateSessions: boolean }
  /** maxLagBytes undefined: `unbounded` (the explicit opt-out); the default is 1 MiB. */
  | { type: 'postgres-promote'; maxLagBytes: number | undefined; maxLagSeconds: number | undefined; maxRecordAge: number }
  | { type: 'cnpg-demote' | 'cnpg-promote'; namespace: string; clusters: Record<string, string> }   // switchyard cluster -> CloudNativePG Cluster name
  | { type: 'exec'; command: string[]; env: Record<string, string> }
  | { type: 'webhook'; url: string; secret: string | undefined; format: 'json' | 'slack' | 'pagerduty'; routingKey: string | undefined; headers: Record<string, string> }
);
export type StepType = StepConfig['type'];

/** One entry of `notify:`: told about holds, completed moves, an unfenced old primary, store failures; never blocking. */
interface NotifyCommon { name: string; timeout: number; retries: number; backoff: number }
export type NotifyConfig = NotifyCommon & (
  | ({ type: 'webhook' } & Pick<Extract<StepConfig, { type: 'webhook' }>, 'url' | 'secret' | 'format' | 'routingKey' | 'headers'>)
  | ({ type: 'exec' } & Pick<Extract<StepConfig, { type: 'exec' }>, 'command' | 'env'>)
);

export type FailoverPrecheck = 'parity';
export interface FailoverConfig {
  automatic: boolean;
  cooldown: number;
  prechecks?: FailoverPrecheck[];
  steps: StepConfig[];
  instances: number;               // switchyard instances expected to share the store (1: this one alone)
  quorum: number;                  // fresh observations that must agree before an automatic failover
}

/** The per-type defaults of the common step options (docs/configuration.md has the same table). */
export const STEP_DEFAULTS: Record<StepType, { timeout: number; retries: number; backoff: number; onFailure: OnFailure }> = {
  'switch-traffic': { timeout: 30_000, retries: 0, backoff: 1000, onFailure: 'hold' },
  'kubernetes-scale': { timeout: 120_000, retries: 2, backoff: 1000, onFailure: 'hold' },
  'postgres-fence': { timeout: 30_000, retries: 2, backoff: 1000, onFailure: 'continue' },
  'postgres-promote': { timeout: 30_000, retries: 2, backoff: 1000, onFailure: 'hold' },
  'cnpg-demote': { timeout: 60_000, retries: 2, backoff: 1000, onFailure: 'continue' },
  'cnpg-promote': { timeout: 120_000, retries: 2, backoff: 1000, onFailure: 'hold' },
  exec: { timeout: 30_000, retries: 2, backoff: 1000, onFailure: 'continue' },
  webhook: { timeout: 30_000, retries: 2, backoff: 1000, onFailure: 'continue' },
};

const stepCommon = {
  name: s.optional(s.string({ description: 'the step\'s name in the journal, logs, metrics (`step` label) and idempotency key. Default: the type. Two steps of the same type need distinct names. **Do not rename steps while a transition is unfinished**: the journal would not match (`SWY_FAILOVER_JOURNAL_MISMATCH`)', pattern: STEP_NAME, what: 'a lower-case name (a-z, 0-9, -)' }), { type: 'string', default: 'the type', range: '`a-z`, `0-9`, `-`, starting with a letter or digit' }),
  timeout: s.optional(s.duration(10, DAY, { description: 'one attempt (and the precheck) is aborted after this (`SWY_FAILOVER_STEP_TIMEOUT`) and counts as failed' }), { default: 'per type, see below' }),
  retries: s.optional(s.integer(0, 100, { description: 'further attempts after a failed one. Not retried when the error says it cannot succeed (e.g. a webhook answered 4xx)' }), { default: 'per type, see below' }),
  backoff: s.optional(s.duration(0, HOUR, { description: 'wait before the first retry; doubles for each further retry, at most 60 s' }), { default: 'per type, see below' }),
  onFailure: s.optional(s.oneOf(['hold', 'continue'] as const, { description: 'when the last attempt failed: `hold` stops the transition in `held` (`SWY_FAILOVER_STEP_FAILED`; a person resumes or clears it); `continue` journals the step as `skipped` and goes on' }), { default: 'per type, see below' }),
};

const execOptions = {
  command: s.list(s.string({ description: 'one argument' }), { min: 1, description: 'argv: `[/usr/local/bin/notify, --channel, ops]`', doc: { type: 'list of strings, at least 1' } }),
  env: s.stringMap({ default: {}, description: 'the variables the command gets besides `PATH`, `LANG`, `TZ` and the `SWITCHYARD_*` ones; pass one of switchyard\'s own with `${VAR}`: `{ PGPASSWORD: "${PGPASSWORD}" }`' }),
};
const webhookOptions = {
  url: s.httpUrl({ description: 'where to POST; only its origin is logged (Slack-style URLs carry a secret in the path)' }),
  secret: s.optional(s.string({ description: 'HMAC key for `x-switchyard-signature`' })),
  format: s.oneOf(['json', 'slack', 'pagerduty'] as const, { default: 'json', description: '`json`: `{ event, kind, epoch, from, to, reason, forced, at, idempotencyKey }`; `slack`: an incoming-webhook message; `pagerduty`: an Events API v2 `trigger` with `dedup_key` = the idempotency key' }),
  routingKey: s.optional(s.string({ description: 'PagerDuty integration key; **required** with `format: pagerduty`' })),
  headers: s.stringMap({ default: {}, description: 'extra request headers' }),
};
const names = (description: string) => s.list(s.string({ description: 'a name' }), { default: [], description, doc: { type: 'list of strings' } });
const cnpgOptions = (what: string) => s.object({
  ...stepCommon,
  namespace: s.string({ description: 'the namespace of the Clusters (the same in both clusters)', pattern: K8S_NAME, what: 'a Kubernetes namespace name' }),
  clusters: s.stringMap({ description: 'switchyard cluster name → CloudNativePG Cluster name, one entry per cluster, distinct names (`{ east: pg-east, west: pg-west }`)' }),
}, { description: what });

export const stepOptionSchemas = {
  'switch-traffic': s.object({ ...stepCommon }, { description: 'the built-in step: DNS answers and the proxy upstream move to the target; exactly once' }),
  'kubernetes-scale': s.object({
    ...stepCommon,
    namespace: s.string({ description: 'namespace of the objects' }),
    deployments: names('Deployment names'),
    hpas: names('HorizontalPodAutoscaler names'),
    replicas: s.integer(0, 100000, { description: 'the minimum to raise to' }),
    wait: s.boolean({ default: false, description: 'also wait (within `timeout`) until every Deployment has `replicas` available; else the step is done once the patches are accepted' }),
  }, { description: "raises the target's Deployments (and HPA minimums) to `replicas`" }),
  'postgres-fence': s.object({
    ...stepCommon,
    mode: s.oneOf(['nologin', 'read-only'] as const, { default: 'nologin', description: '`nologin`: every login role that is not a superuser, not a replication role and not switchyard\'s own user loses LOGIN (`ALTER ROLE ... NOLOGIN`), recorded on each role as the setting `switchyard.fenced = <epoch>`. It holds against every non-superuser client (nothing a client sets can undo it: it cannot log in), and it survives a restart. `read-only`: the weaker mode, `ALTER SYSTEM SET default_transaction_read_only = on`; any client undoes it for itself with `BEGIN READ WRITE`, `SET default_transaction_read_only = off` or a role/database setting. Use it only when roles must not be touched' }),
    terminateSessions: s.boolean({ default: true, description: 'terminate every other non-superuser client backend after fencing, so open sessions cannot keep writing (walsenders are left alone)' }),
  }, { description: "fences the source's database where reachable" }),
  'postgres-promote': s.object({
    ...stepCommon,
    maxLagBytes: s.custom<number | 'unbounded'>({ anyOf: [{ type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }, { const: 'unbounded' }] }, (v, p, issues) => {
      if (v === 'unbounded') return 'unbounded';
      if (typeof v === 'string') { issues.push({ path: p, message: `expected an integer number of bytes or 'unbounded', got ${JSON.stringify(v)}` }); return undefined; }
      return s.readNode(s.integer(0, Number.MAX_SAFE_INTEGER, { description: '' }), v, p, issues);
    }, { type: 'integer or `unbounded`', default: DEFAULT_MAX_LAG_BYTES, description: 'refuse to promote when the target is further behind than this many bytes of WAL (`SWY_FAILOVER_REPLICA_LAG`): the writes that would be lost. `unbounded` is the explicit opt-out: no byte bound, and a source position that is not known does not hold', doc: { default: '`1048576` (1 MiB)', range: '0..9007199254740991' } }),
    maxLagSeconds: s.optional(s.integer(0, 86400, { description: 'refuse when replay is this many seconds behind (counted only while WAL is pending)' }), { default: 'no bound' }),
    maxRecordAge: s.duration(100, DAY, { default: '30s', description: 'how old the observer\'s last record of the source may be and still count, when the source does not answer. Keep it a few `health.interval`s above the detection time' }),
  }, { description: "promotes the target's database, within the lag bound" }),
  'cnpg-demote': cnpgOptions('demotes the source CloudNativePG Cluster'),
  'cnpg-promote': cnpgOptions('promotes the target CloudNativePG Cluster'),
  exec: s.object({ ...stepCommon, ...execOptions }, { description: 'runs a command' }),
  webhook: s.object({ ...stepCommon, ...webhookOptions }, { description: 'POSTs the event' }),
};
const STEP_TYPES = Object.keys(stepOptionSchemas) as StepType[];

const stepSchema = s.custom<StepConfig>({
  anyOf: [
    { type: 'string', enum: STEP_TYPES, description: 'a step with all its defaults' },
    { type: 'object', properties: stepOptionSchemas, additionalProperties: false, minProperties: 1, maxProperties: 1 },
  ],
}, readStep, { type: 'step', description: 'a step type alone (`switch-traffic`), or a one-key mapping of its type to its options', walk: s.exactlyOne(stepOptionSchemas, { description: '', none: () => '' }) });

function readStep(v: unknown, path: string, issues: Issues): StepConfig | undefined {
  let type: string;
  let body: unknown;
  let p = path;
  if (typeof v === 'string') { type = v; body = {}; }
  else {
    const rec = mapping(v, path, issues, STEP_TYPES);
    if (!rec) return undefined;
    const keys = Object.keys(rec);
    if (keys.length !== 1) {
      issues.push({ path, message: `expected exactly one step type (${STEP_TYPES.join(', ')}), got ${keys.length}` });
      return undefined;
    }
    type = keys[0];
    if (!(STEP_TYPES as string[]).includes(type)) return undefined;   // reported as an unknown property
    body = rec[type] ?? {};
    p = join(path, type);
  }
  if (!(STEP_TYPES as string[]).includes(type)) {
    issues.push({ path, message: `unknown step '${type}' (known: ${STEP_TYPES.join(', ')})` });
    return undefined;
  }
  const { value, fields } = s.readFields(stepOptionSchemas[type as StepType] as s.Node<Record<string, unknown>>, body, p, issues);
  return finishStep(type as StepType, fields, value !== undefined, p, issues);
}

/** The step from its options (`r`: those that read; `ok`: all of them did, the rest reported). */
function finishStep(type: StepType, r: Record<string, unknown>, ok: boolean, p: string, issues: Issues): StepConfig | undefined {
  const before = issues.length;
  if (type === 'kubernetes-scale') {
    const count = (k: string) => (Array.isArray(r[k]) ? (r[k] as unknown[]).length : 0);
    if (count('deployments') + count('hpas') === 0 && r.deployments !== undefined && r.hpas !== undefined) issues.push({ path: p, message: 'needs at least one entry in deployments or hpas' });
  }
  if (!ok || issues.length !== before) return undefined;
  const d = STEP_DEFAULTS[type];
  const common = { name: (r.name as string | undefined) ?? type, timeout: (r.timeout as number | undefined) ?? d.timeout, retries: (r.retries as number | undefined) ?? d.retries, backoff: (r.backoff as number | undefined) ?? d.backoff, onFailure: (r.onFailure as OnFailure | undefined) ?? d.onFailure };
  switch (type) {
    case 'kubernetes-scale': {
      const o = r as s.Out<(typeof stepOptionSchemas)['kubernetes-scale']>;
      return { ...common, type, namespace: o.namespace, deployments: o.deployments, hpas: o.hpas, replicas: o.replicas, wait: o.wait };
    }
    case 'postgres-fence': {
      const o = r as s.Out<(typeof stepOptionSchemas)['postgres-fence']>;
      return { ...common, type, mode: o.mode, terminateSessions: o.terminateSessions };
    }
    case 'postgres-promote': {
      const o = r as s.Out<(typeof stepOptionSchemas)['postgres-promote']>;
      return { ...common, type, maxLagBytes: o.maxLagBytes === 'unbounded' ? undefined : o.maxLagBytes, maxLagSeconds: o.maxLagSeconds, maxRecordAge: o.maxRecordAge };
    }
    case 'cnpg-demote':
    case 'cnpg-promote': {
      const o = r as s.Out<(typeof stepOptionSchemas)['cnpg-demote']>;
      const cp = join(p, 'clusters');
      const named = issues.length;
      for (const [k, n] of Object.entries(o.clusters)) {
        if (!K8S_NAME.test(n)) issues.push({ path: join(cp, k), message: `${JSON.stringify(n)} is not a CloudNativePG Cluster name` });
      }
      if (issues.length !== named) return undefined;
      if (new Set(Object.values(o.clusters)).size !== Object.keys(o.clusters).length) issues.push({ path: cp, message: 'each cluster needs its own CloudNativePG Cluster (the names of a replica-cluster pair differ)' });
      return { ...common, type, namespace: o.namespace, clusters: o.clusters };
    }
    case 'exec': {
      const o = r as s.Out<(typeof stepOptionSchemas)['exec']>;
      return { ...common, type, command: o.command, env: o.env };
    }
    case 'webhook': {
      const o = r as s.Out<(typeof stepOptionSchemas)['webhook']>;
      if (o.format === 'pagerduty' && o.routingKey === undefined) { issues.push({ path: join(p, 'routingKey'), message: 'is required with format: pagerduty' }); return undefined; }
      return { ...common, type, url: o.url, secret: o.secret, format: o.format, routingKey: o.routingKey, headers: o.headers };
    }
    default:
      return { ...common, type: 'switch-traffic' };
  }
}

export const failoverSchema = s.object({
  automatic: s.boolean({ default: true, description: '`true`: when the preferred cluster is down and every precheck passes, switchyard fails over by itself. `false`: it detects, holds and alerts; a person runs `switchyard failover --to CLUSTER`' }),
  cooldown: s.duration(0, DAY, { default: '5m', description: 'no **automatic** failover within this time after the last transition finished (a flapping preferred cluster cannot bounce traffic). Manual moves ignore it' }),
  prechecks: s.list(s.oneOf(['parity'] as const, { description: 'a precheck' }), { default: [], description: 'extra prechecks before any move. `parity`: the [parity](#parity) comparison must show no blocking difference between source and target (a difference, or parity unknown because a cluster cannot be read, holds an automatic failover; `failover --force` overrides)', doc: { type: 'list of `parity`' } }),
  steps: s.list(stepSchema, { min: 1, default: ['switch-traffic'], description: 'what every move does, in order, from the *source* (the active cluster) to the *target*. See [steps](#steps)', doc: { range: 'must contain `switch-traffic` exactly once; step names unique' } }),
  instances: s.integer(1, 9, { default: 1, description: 'how many switchyard instances share the store (typically 3: one beside each cluster and a witness). Each publishes its own verdicts; one of them leads and runs moves', doc: { range: '1..9; above 1 needs [`state.etcd`](#state)' } }),
  quorum: s.optional(s.integer(1, 9, { description: 'how many instances\' **fresh** observations must agree that the active cluster is down and the target healthy before the leader fails over automatically. A quorum of 1 with several instances is rejected: one instance\'s view of the network would be enough to move traffic, fence and promote' }), { type: 'integer', default: 'a majority of `failover.instances` (`2` of 3, `3` of 5)', range: '1..`failover.instances`; at least 2 when `instances` is above 1' }),
}, { default: {}, description: 'When and how traffic moves.' });

/** What the failover slice checks against the clusters as written: their names, and whether each has a database and Kubernetes access. */
export interface ClusterFacts { name: string | undefined; database: boolean; kubernetes: boolean }

export function readFailover(v: unknown, clusters: readonly ClusterFacts[] | undefined, issues: Issues): FailoverConfig | undefined {
  const { value: r, fields } = s.readFields(failoverSchema, v, 'failover', issues);
  const { instances } = fields;
  const quorum = fields.quorum ?? (instances === undefined ? undefined : Math.floor(instances / 2) + 1);
  if (instances !== undefined && quorum !== undefined && quorum > instances) issues.push({ path: 'failover.quorum', message: `${quorum} is out of range 1..${instances}` });
  else if (instances !== undefined && instances > 1 && quorum === 1) {
    issues.push({ path: 'failover.quorum', message: `1 of ${instances} instances: a single instance could fail over on its own view; use at least 2 (default: a majority, ${Math.floor(instances / 2) + 1})` });
  }
  const steps = fields.steps ?? [];
  const switches = steps.filter((st) => st.type === 'switch-traffic').length;
  if (fields.steps && switches !== 1) issues.push({ path: 'failover.steps', message: `must contain switch-traffic exactly once (found ${switches})` });
  const seen = new Set<string>();
  steps.forEach((st, i) => {
    const sp = join('failover.steps', i);
    if (seen.has(st.name)) issues.push({ path: join(sp, 'name'), message: `step name ${st.name} is used twice; set a distinct name` });
    seen.add(st.name);
    if ((st.type === 'cnpg-demote' || st.type === 'cnpg-promote') && clusters) {
      for (const k of Object.keys(st.clusters)) {
        if (!clusters.some((c) => c.name === k)) issues.push({ path: join(join(join(sp, st.type), 'clusters'), k), message: `no cluster named ${k} (clusters: ${clusters.flatMap((c) => c.name ?? []).join(', ')})` });
      }
    }
    (clusters ?? []).forEach((c, ci) => {
      if ((st.type === 'postgres-promote' || st.type === 'postgres-fence') && !c.database) {
        issues.push({ path: `clusters[${ci}].database`, message: `is required: step ${st.name} (${st.type}) acts on every cluster's database` });
      }
      if ((st.type === 'kubernetes-scale' || st.type === 'cnpg-demote' || st.type === 'cnpg-promote') && !c.kubernetes) {
        issues.push({ path: `clusters[${ci}].kubernetes`, message: `is required: step ${st.name} (${st.type}) acts on every cluster` });
      }
      if ((st.type === 'cnpg-demote' || st.type === 'cnpg-promote') && c.name !== undefined && st.clusters[c.name] === undefined) {
        issues.push({ path: join(join(sp, st.type), 'clusters'), message: `names no CloudNativePG Cluster for cluster ${c.name}` });
      }
    });
  });
  if (!r || instances === undefined || quorum === undefined || quorum > instances || (instances > 1 && quorum === 1)) return undefined;
  return { automatic: r.automatic, cooldown: r.cooldown, prechecks: [...new Set(r.prechecks)], steps, instances, quorum };
}

const notifyCommon = {
  name: s.optional(s.string({ description: 'in logs and the `name` label of `switchyard_notify_deliveries_total`', pattern: STEP_NAME, what: 'a lower-case name (a-z, 0-9, -)' }), { type: 'string', default: '`webhook-N` / `exec-N` (N: the position)', range: '`a-z`, `0-9`, `-`' }),
  timeout: s.duration(10, HOUR, { default: '10s', description: 'one delivery attempt' }),
  retries: s.integer(0, 100, { default: 5, description: 'further attempts after a failed one (not after a 3xx or a 4xx other than 408/429)' }),
  backoff: s.duration(0, HOUR, { default: '1s', description: 'wait before the first retry; doubles for each further one, at most 60 s' }),
};
export const notifyOptionSchemas = {
  webhook: s.object({ ...notifyCommon, ...webhookOptions }, { description: 'POSTs the event (the options of the webhook step)' }),
  exec: s.object({ ...notifyCommon, ...execOptions }, { description: 'runs a command (the options of the exec step)' }),
};
const notifyEntry = s.exactlyOne(notifyOptionSchemas, { description: 'one receiver: `webhook` or `exec`', none: (n) => `expected exactly one of webhook, exec, got ${n}`, emptyIsDefaults: true });
export const notifySchema = s.list(notifyEntry, { default: [], description: 'who is told about holds, completed moves, an unfenced old primary and store failures; never blocking' });

export function readNotify(v: unknown, issues: Issues): NotifyConfig[] | undefined {
  const items = v === undefined || v === null ? [] : s.readNode(s.list(s.custom({}, (x) => x, { type: '', description: '' }), { description: '' }), v, 'notify', issues);
  if (!items) return undefined;
  const out: NotifyConfig[] = [];
  items.forEach((item, i) => {
    const path = join('notify', i);
    const r = s.readNode(notifyEntry, item, path, issues);
    if (!r) return;
    const name = r.value.name ?? `${r.kind}-${i}`;
    if (out.some((n) => n.name === name)) { issues.push({ path: join(join(path, r.kind), 'name'), message: `notify name ${name} is used twice; set a distinct name` }); return; }
    const common = { name, timeout: r.value.timeout, retries: r.value.retries, backoff: r.value.backoff };
    if (r.kind === 'exec') {
      out.push({ ...common, type: 'exec', command: r.value.command, env: r.value.env });
      return;
    }
    const w = r.value;
    if (w.format === 'pagerduty' && w.routingKey === undefined) { issues.push({ path: join(join(path, 'webhook'), 'routingKey'), message: 'is required with format: pagerduty' }); return; }
    out.push({ ...common, type: 'webhook', url: w.url, secret: w.secret, format: w.format, routingKey: w.routingKey, headers: w.headers });
  });
  return out.length === items.length ? out : undefined;
}
