// Re-fencing an old primary that could not be fenced during its move (it did not answer).
// While the routing state records it `unfenced` and it is not the active cluster, the
// controller starts tryRefence() (not awaited, one attempt at a time) at most once per
// interval; the moment the database answers it
// is fenced (or found to be a standby, rebuilt already), and the record is cleared. Nothing else
// is ever sent to the source of a completed move.
import type { Logger } from '../log.ts';
import type { Routing, UnfencedSource } from '../routing/index.ts';
import { describeError, isSwitchyardError } from '../errors.ts';
import type { Notifier } from './notifier.ts';
import type { StepOutcome } from './step.ts';

export interface RefenceDeps {
  routing: Routing;
  logger: Logger;
  notify?: Notifier;
  now: () => number;
  intervalMs: number;
  /** Runs the fence step for the unfenced cluster under its timeout and the shutdown signal. */
  run: (u: UnfencedSource) => Promise<StepOutcome | void>;
}

export function createRefencer(deps: RefenceDeps) {
  const log = deps.logger.child({ part: 'refence' });
  let last = 0;
  let inFlight: Promise<void> | null = null;

  /**
   * Starts one attempt when one is due and none is running, without waiting for it: an old
   * primary that swallows packets must not hold up the controller's evaluations.
   */
  function tryRefence(): void {
    if (inFlight) return;
    inFlight = attempt().catch((err) => log.error({ err: describeError(err) }, `re-fencing failed: ${describeError(err)}`)).finally(() => { inFlight = null; });
  }

  async function attempt(): Promise<void> {
    const s = deps.routing.state();
    const u = s.unfenced;
    if (!u || deps.now() - last < deps.intervalMs) return;
    last = deps.now();
    if (s.active === u.cluster) {
      log.warn({ cluster: u.cluster, epoch: u.epoch }, `${u.cluster} is active again; it is no longer an old primary to fence`);
      await deps.routing.commit((x) => ({ ...x, unfenced: undefined }));
      return;
    }
    let outcome: StepOutcome | void;
    try {
      outcome = await deps.run(u);
    } catch (err) {
      if (isSwitchyardError(err, 'SWY_FAILOVER_SHUTDOWN')) return;
      log.error({ cluster: u.cluster, epoch: u.epoch, err: describeError(err) }, `re-fencing the old primary ${u.cluster} failed: ${describeError(err)}; trying again in ${deps.intervalMs} ms`);
      return;
    }
    if (!outcome || outcome.sourceFence === 'unreachable' || outcome.sourceFence === undefined) {
      log.debug({ cluster: u.cluster }, `old primary ${u.cluster} still does not answer; it stays unfenced`);
      return;
    }
    const detail = outcome.detail ?? outcome.sourceFence;
    await deps.routing.commit((x) => (x.unfenced?.cluster === u.cluster ? { ...x, unfenced: undefined } : x));
    log.warn({ cluster: u.cluster, epoch: u.epoch, detail, since: u.since }, `old primary ${u.cluster} answered and is fenced now: ${detail}`);
    const summary = outcome.sourceFence === 'standby'
      ? `old primary ${u.cluster} (source of move ${u.epoch}) answered as a standby (rebuilt): it cannot take writes`
      : `old primary ${u.cluster} (source of move ${u.epoch}) answered and was fenced: ${detail}`;
    deps.notify?.notify({ kind: 'fenced', severity: 'info', summary, cluster: u.cluster, epoch: u.epoch, details: { since: u.since, detail } });
  }

  return { tryRefence, idle: async () => { await inFlight; } };
}
