// cnpg-demote and cnpg-promote: a CloudNativePG replica-cluster pair in the distributed topology
// (CloudNativePG 1.24+, `spec.replica.self`/`primary`/`source`), moved the way CloudNativePG's
// documentation describes:
// - controlled switchover: demote the source (set its spec.replica.primary to the target); the
//   operator writes status.demotionToken; promote the target with spec.replica.primary = itself and
//   spec.replica.promotionToken = that token, so the operator promotes only once the target has
//   replayed up to the source's last WAL position (no data loss by construction);
// - failover with the source lost: no token can be had, the target's lag is unknown, so
//   cnpg-promote holds unless the move is forced (--force), as postgres-promote holds on unknown lag.
//
// Exactly once: the promotion request carries the annotation switchyard.io/promotion-epoch; a run
// that finds its own epoch there (after a crash, a retry) does not send it again and only waits,
// and a target promoted by anyone else is refused. Promotion is done when status.timelineID has
// moved past the timeline recorded with the request (a promotion starts a new timeline). Writes
// are merge patches carrying the resourceVersion they were decided on; a 409 re-reads and decides
// again, at most MAX_WRITES times.
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepConfig } from '../../config/index.ts';
import { SwitchyardError, describeError } from '../../errors.ts';
import type { KubernetesClients, KubernetesClientsFor } from '../../kubernetes.ts';
import type { Logger } from '../../log.ts';
import type { Step, StepContext } from '../step.ts';
import type { ClusterConfig } from '../../config/index.ts';

export type CnpgStepConfig = Extract<StepConfig, { type: 'cnpg-demote' | 'cnpg-promote' }>;

export interface CnpgDeps {
  logger: Logger;
  clientsFor: KubernetesClientsFor;
  /** Interval between status polls; default 1000 ms. */
  pollIntervalMs?: number;
}

export const EPOCH_ANNOTATION = 'switchyard.io/promotion-epoch';
export const TIMELINE_ANNOTATION = 'switchyard.io/promotion-timeline';
export const DEMOTION_ANNOTATION = 'switchyard.io/demotion-epoch';
const MAX_WRITES = 3;
const HEALTHY = 'Cluster in healthy state';

interface CnpgCluster {
  metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec?: { replica?: { self?: string; primary?: string; source?: string; enabled?: boolean; promotionToken?: string } };
  status?: { phase?: string; systemID?: string; timelineID?: number; demotionToken?: string; currentPrimary?: string };
}

export function createCnpgStep(config: CnpgStepConfig, deps: CnpgDeps): Step {
  const ns = config.namespace;
  const poll = deps.pollIntervalMs ?? 1000;
  const nameOf = (c: ClusterConfig) => config.clusters[c.name];

  function clientsOf(c: ClusterConfig): KubernetesClients {
    if (!c.kubernetes) throw new SwitchyardError('SWY_KUBE_CONFIG', `cluster ${c.name} has no kubernetes settings; step ${config.name} needs them`, { cluster: c.name, step: config.name });
    return deps.clientsFor(c);
  }

  async function read(c: ClusterConfig, ctx: StepContext): Promise<CnpgCluster> {
    const k = clientsOf(c);
    const name = nameOf(c);
    try {
      return await k.custom.getNamespacedCustomObject({ group: 'postgresql.cnpg.io', version: 'v1', namespace: ns, plural: 'clusters', name }, k.requestOptions(ctx.signal)) as CnpgCluster;
    } catch (err) {
      throw k.error(err, `read cluster.postgresql.cnpg.io ${ns}/${name} in cluster ${c.name}`, ctx.signal);
    }
  }

  async function patch(c: ClusterConfig, ctx: StepContext, body: Record<string, unknown>): Promise<void> {
    const k = clientsOf(c);
    const name = nameOf(c);
    try {
      await k.custom.patchNamespacedCustomObject({ group: 'postgresql.cnpg.io', version: 'v1', namespace: ns, plural: 'clusters', name, body }, k.mergePatchOptions(ctx.signal));
    } catch (err) {
      throw k.error(err, `patch cluster.postgresql.cnpg.io ${ns}/${name} in cluster ${c.name}`, ctx.signal);
    }
  }

  /** Polls `done` on the Cluster until it holds, the operator reports it cannot, or the step's signal ends. */
  async function waitFor(c: ClusterConfig, ctx: StepContext, what: string, done: (o: CnpgCluster) => boolean): Promise<CnpgCluster> {
    let o: CnpgCluster | undefined;
    for (;;) {
      try {
        o = await read(c, ctx);
      } catch (err) {
        if (ctx.signal.aborted) break;
        throw err;
      }
      if (done(o)) return o;
      if (o.status?.phase?.startsWith('Cannot')) {
        throw new SwitchyardError('SWY_FAILOVER_CNPG_PROMOTE_FAILED', `${what}: the operator reports "${o.status.phase}"`, { cluster: c.name, phase: o.status.phase, retryable: false });
      }
      try { await sleep(poll, undefined, { signal: ctx.signal }); } catch { break; }
    }
    throw new SwitchyardError('SWY_FAILOVER_CNPG_PROMOTE_FAILED', `${what} did not finish before the step ended (phase: ${o?.status?.phase ?? 'unknown'})`, { cluster: c.name, phase: o?.status?.phase });
  }

  /** The identity check: the target is the replica (distributed topology) whose primary is the source. */
  function identity(ctx: StepContext, target: CnpgCluster, source: CnpgCluster | undefined): void {
    const t = nameOf(ctx.target);
    const s = nameOf(ctx.source);
    const r = target.spec?.replica;
    const where = `cluster.postgresql.cnpg.io ${ns}/${t} in cluster ${ctx.target.name}`;
    const fail = (why: string) => new SwitchyardError('SWY_FAILOVER_CNPG_IDENTITY', `${where} ${why}`, { cluster: ctx.target.name, replica: r, retryable: false });
    if (r === undefined || r.self !== t || !r.source) throw fail(`is not a replica cluster of the distributed topology (spec.replica.self must be ${t} and spec.replica.source set)`);
    const ours = target.metadata?.annotations?.[EPOCH_ANNOTATION] === String(ctx.epoch);
    if (r.primary === t && !ours) throw fail(`is already its own primary and this move (epoch ${ctx.epoch}) did not promote it; refusing to treat it as the replica of ${s}`);
    if (r.primary !== t && r.primary !== s) throw fail(`replicates from primary ${r.primary ?? 'none'}, not from ${s}`);
    if (source?.status?.systemID && target.status?.systemID && source.status.systemID !== target.status.systemID) {
      throw fail(`has PostgreSQL system identifier ${target.status.systemID}, the source ${s} has ${source.status.systemID}: it is not a replica of that database`);
    }
  }

  async function readSource(ctx: StepContext): Promise<CnpgCluster | undefined> {
    try {
      return await read(ctx.source, ctx);
    } catch (err) {
      ctx.signal.throwIfAborted();
      ctx.logger.warn({ err: describeError(err) }, `source ${ctx.source.name} cannot be read: ${describeError(err)}`);
      return undefined;
    }
  }

  function forcedOr(ctx: StepContext, err: SwitchyardError): void {
    if (!ctx.forced) throw err;
    ctx.logger.warn({ err: describeError(err) }, `forced past: ${describeError(err)}`);
  }

  const demote: Step = {
    config,
    async precheck(ctx) {
      const source = await readSource(ctx);
      return { detail: source ? `source ${nameOf(ctx.source)} readable (phase ${source.status?.phase ?? 'unknown'})` : `source ${ctx.source.name} unreachable; it will not be demoted` };
    },
    async run(ctx) {
      const t = nameOf(ctx.target);
      const s = nameOf(ctx.source);
      for (let write = 1; ; write++) {
        let o: CnpgCluster;
        try {
          o = await read(ctx.source, ctx);
        } catch (err) {
          // A lost source is the failover case: retrying would only use up the step's time.
          if (err instanceof SwitchyardError && (err.code === 'SWY_KUBE_UNREACHABLE' || err.code === 'SWY_KUBE_TIMEOUT')) {
            throw new SwitchyardError(err.code, err.message, { ...err.details, retryable: false }, { cause: err });
          }
          throw err;
        }
        if (o.spec?.replica?.primary === t) break;
        try {
          await patch(ctx.source, ctx, { metadata: { resourceVersion: o.metadata?.resourceVersion, annotations: { [DEMOTION_ANNOTATION]: String(ctx.epoch) } }, spec: { replica: { primary: t } } });
          ctx.logger.warn({ cluster: ctx.source.name, name: s, primary: t }, `demoting CloudNativePG cluster ${s} in ${ctx.source.name}: spec.replica.primary = ${t}`);
          break;
        } catch (err) {
          if (!(err instanceof SwitchyardError) || err.code !== 'SWY_KUBE_CONFLICT' || write >= MAX_WRITES) throw err;
        }
      }
      await waitFor(ctx.source, ctx, `demotion of ${s} in ${ctx.source.name}`, (o) => typeof o.status?.demotionToken === 'string' && o.status.demotionToken !== '');
      return { detail: `${s} in ${ctx.source.name} demoted; demotion token ready` };
    },
  };

  const promote: Step = {
    config,
    async precheck(ctx) {
      const [target, source] = [await read(ctx.target, ctx), await readSource(ctx)];
      identity(ctx, target, source);
      if (!source) {
        forcedOr(ctx, new SwitchyardError('SWY_FAILOVER_CNPG_NO_TOKEN', `source ${ctx.source.name} cannot be read, so it cannot be demoted and give a demotion token: the replica ${nameOf(ctx.target)}'s lag is unknown`, { cluster: ctx.source.name }));
        return { detail: 'forced: promoting without a demotion token' };
      }
      return { detail: `${nameOf(ctx.target)} is the replica of ${nameOf(ctx.source)} (system ${target.status?.systemID ?? 'unknown'})` };
    },
    async run(ctx) {
      const t = nameOf(ctx.target);
      const s = nameOf(ctx.source);
      let target: CnpgCluster | undefined;
      for (let write = 1; ; write++) {
        target = await read(ctx.target, ctx);
        if (target.metadata?.annotations?.[EPOCH_ANNOTATION] === String(ctx.epoch)) {
          ctx.logger.info({ cluster: ctx.target.name, name: t, epoch: ctx.epoch }, `promotion of ${t} was already requested by this move (epoch ${ctx.epoch}); waiting for it, not asking again`);
          break;
        }
        const source = await readSource(ctx);
        identity(ctx, target, source);
        const token = source?.spec?.replica?.primary === t ? source.status?.demotionToken : undefined;
        if (!token) {
          forcedOr(ctx, new SwitchyardError('SWY_FAILOVER_CNPG_NO_TOKEN', `no demotion token from ${s} in ${ctx.source.name} (${source ? 'it was not demoted' : 'it cannot be read'}): ${t}'s lag is unknown`, { cluster: ctx.source.name, retryable: false }));
        }
        const timeline = target.status?.timelineID ?? 0;
        try {
          await patch(ctx.target, ctx, {
            metadata: { resourceVersion: target.metadata?.resourceVersion, annotations: { [EPOCH_ANNOTATION]: String(ctx.epoch), [TIMELINE_ANNOTATION]: String(timeline) } },
            spec: { replica: token ? { primary: t, promotionToken: token } : { primary: t } },
          });
          ctx.logger.warn({ cluster: ctx.target.name, name: t, epoch: ctx.epoch, token: token !== undefined }, `promoting CloudNativePG cluster ${t} in ${ctx.target.name}${token ? ' with the demotion token of ' + s : ' without a demotion token (forced)'}`);
          break;
        } catch (err) {
          if (!(err instanceof SwitchyardError) || err.code !== 'SWY_KUBE_CONFLICT' || write >= MAX_WRITES) throw err;
          ctx.logger.info({ cluster: ctx.target.name, write }, `${t} changed while being promoted (409 Conflict); reading it again`);
        }
      }
      const done = await waitFor(ctx.target, ctx, `promotion of ${t} in ${ctx.target.name}`, (o) => {
        const from = Number(o.metadata?.annotations?.[TIMELINE_ANNOTATION] ?? NaN);
        return o.status?.phase === HEALTHY && typeof o.status.timelineID === 'number' && o.status.timelineID > from;
      });
      return { detail: `${t} in ${ctx.target.name} promoted (timeline ${done.status?.timelineID})` };
    },
  };

  return config.type === 'cnpg-demote' ? demote : promote;
}
