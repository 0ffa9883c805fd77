// The routing state holder: loads (or initialises) the stored state, serves immutable
// snapshots to readers, and applies the controller's changes: write to the store first, then
// swap the snapshot and notify subscribers. Writes are serialised.
import { SwitchyardError } from '../errors.ts';
import { describeError, isSwitchyardError } from '../errors.ts';
import type { RoutingSnapshot, RoutingSource, RoutingState, StateStore, StoreEvent, StoreStatus } from './types.ts';
import { inProgressTarget, type StateBody } from './transitions.ts';

export interface Routing extends RoutingSource {
  /** The full state (journal included), as last committed. */
  state(): RoutingState;
  /** Applies `change` to the current state and stores it; the new state is returned. Serialised. */
  commit(change: (current: RoutingState) => StateBody): Promise<RoutingState>;
  /** Whether the state is being written (status, metric, alert). */
  storeStatus(): StoreStatus;
  /**
   * One store check: while writes fail, rewrite the state in memory (a success is the recovery);
   * otherwise ask the store whether it still holds this state and rewrite it from memory when it
   * went missing. Never throws. `startChecks` runs it on a timer.
   */
  checkStore(): Promise<void>;
  startChecks(intervalMs: number): void;
  stopChecks(): void;
  /**
   * Takes a state another instance (the leader) committed to the shared store, as its watch
   * delivered it: swaps the snapshot and notifies, without writing. Older or equal generations
   * are ignored (returns false), so the leader's own writes coming back are no-ops.
   */
  adopt(committed: RoutingState): boolean;
  /**
   * Whether the shared store can be reached (several instances): false marks the snapshot stale
   * (same state and generation; DNS shortens its TTL) and notifies subscribers; true clears it.
   */
  setStoreReachable(reachable: boolean): void;
}

export interface RoutingDeps {
  store: StateStore;
  clusters: readonly string[];
  now?: () => Date;
  /** Told when writes start failing, recover, or the stored state had to be restored. */
  onStoreEvent?: (event: StoreEvent) => void;
}

export function initialState(primary: string, now: Date): RoutingState {
  return { version: 1, generation: 1, epoch: 0, active: primary, state: 'steady', reason: 'initial state: the first configured cluster is active', transition: null, updatedAt: now.toISOString() };
}


const toSnapshot = (s: RoutingState, stale: boolean): RoutingSnapshot => Object.freeze({ generation: s.generation, epoch: s.epoch, active: s.active, state: s.state, retryTo: inProgressTarget(s), stale });

/** Loads the stored state, or writes the initial one (first cluster active) when none exists. */
export async function createRouting(deps: RoutingDeps): Promise<Routing> {
  const now = deps.now ?? (() => new Date());
  let state = await deps.store.load();
  if (state === null) {
    state = initialState(deps.clusters[0], now());
    await deps.store.save(state, 0);
  } else if (!deps.clusters.includes(state.active)) {
    throw new SwitchyardError('SWY_STATE_UNKNOWN_CLUSTER', `stored state (${deps.store.description}) says cluster ${state.active} is active, but it is not configured (clusters: ${deps.clusters.join(', ')})`, { active: state.active });
  }
  let stale = false;
  let snapshot = toSnapshot(state, stale);
  const subscribers = new Set<(s: RoutingSnapshot) => void>();
  let queue: Promise<unknown> = Promise.resolve();
  const emit = (e: StoreEvent) => { try { deps.onStoreEvent?.(e); } catch { /* a listener cannot break routing */ } };
  let status: StoreStatus = { ok: true, error: null, since: now().toISOString(), lastWriteAt: null, restores: 0 };
  for (const n of deps.store.notices?.() ?? []) {
    status = { ...status, restores: status.restores + 1 };
    emit({ kind: 'restored', code: n.code, message: n.message });
  }
  /** Marks the store failing; told once per code (a changed message only updates the status). */
  const failing = (code: string, message: string) => {
    const tell = status.ok || status.error?.code !== code;
    status = { ...status, ok: false, error: { code, message }, since: status.ok ? now().toISOString() : status.since };
    if (tell) emit({ kind: 'failure', code, message });
  };
  const wrote = () => {
    const at = now().toISOString();
    if (!status.ok) {
      const was = status.error?.message ?? '';
      status = { ...status, ok: true, error: null, since: at, lastWriteAt: at };
      emit({ kind: 'recovered', message: `the routing state is written again (${deps.store.description}); it was failing: ${was}` });
    } else status = { ...status, lastWriteAt: at };
  };

  const commit: Routing['commit'] = (change) => {
    const run = async () => {
      const prev = state!;
      const body = change(structuredClone(prev));
      if (!deps.clusters.includes(body.active)) {
        throw new SwitchyardError('SWY_STATE_UNKNOWN_CLUSTER', `cannot make unknown cluster ${body.active} active`, { active: body.active });
      }
      const next: RoutingState = { ...body, version: 1, generation: prev.generation + 1, updatedAt: now().toISOString() };
      try {
        await deps.store.save(next, prev.generation);
      } catch (err) {
        const code = isSwitchyardError(err) ? err.code : 'SWY_STATE_WRITE';
        // Refused because this instance does not lead: the store works, this writer may not write.
        if (code === 'SWY_STORE_NOT_LEADER') throw err;
        failing(code, `cannot store the routing state (${deps.store.description}): ${describeError(err)}; answers stay on ${prev.active}`);
        throw err;
      }
      wrote();
      state = next;
      snapshot = toSnapshot(next, stale);
      for (const fn of subscribers) fn(snapshot);
      return next;
    };
    const p = queue.then(run, run);
    queue = p.catch(() => {});
    return p;
  };

  const adopt: Routing['adopt'] = (committed) => {
    if (committed.generation <= state!.generation) return false;
    if (!deps.clusters.includes(committed.active)) {
      throw new SwitchyardError('SWY_STATE_UNKNOWN_CLUSTER', `the committed state (${deps.store.description}) says cluster ${committed.active} is active, but it is not configured (clusters: ${deps.clusters.join(', ')})`, { active: committed.active });
    }
    state = structuredClone(committed);
    snapshot = toSnapshot(state, stale);
    for (const fn of subscribers) fn(snapshot);
    return true;
  };

  const setStoreReachable: Routing['setStoreReachable'] = (reachable) => {
    if (stale === !reachable) return;
    stale = !reachable;
    snapshot = toSnapshot(state!, stale);
    for (const fn of subscribers) fn(snapshot);
  };

  let checking = false;
  async function checkStore(): Promise<void> {
    if (checking) return;
    checking = true;
    try {
      if (!status.ok && status.error?.code === 'SWY_STATE_WRITE') {
        // A write failed: write the state in memory again; success is the recovery.
        if (deps.store.restore) await queued(() => deps.store.restore!(state!)).then(wrote, () => {});
        else await commit((s) => s).catch(() => {});
        return;
      }
      const result = await queued(() => deps.store.check?.(state!) ?? Promise.resolve({ ok: true as const }));
      if (result.ok) {
        if (!status.ok) wrote();
        return;
      }
      if (result.problem === 'missing' && deps.store.restore) {
        try {
          await queued(() => deps.store.restore!(state!));
          const at = now().toISOString();
          status = { ...status, ok: true, error: null, since: status.ok ? status.since : at, restores: status.restores + 1, lastWriteAt: at };
          emit({ kind: 'restored', code: 'SWY_STATE_MISSING', message: `${result.message}; rewrote it from memory (generation ${state!.generation}, ${state!.active} active, ${state!.state})` });
        } catch (err) {
          failing('SWY_STATE_MISSING', `${result.message}, and rewriting it from memory failed: ${describeError(err)}`);
        }
        return;
      }
      failing(result.code, result.message);
    } catch (err) {
      failing('SWY_STATE_READ', `checking the routing state failed: ${describeError(err)}`);
    } finally {
      checking = false;
    }
  }

  /** Runs fn in the commit queue, so a check never interleaves with a write. */
  function queued<T>(fn: () => Promise<T>): Promise<T> {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  }

  let timer: NodeJS.Timeout | undefined;
  return {
    adopt,
    setStoreReachable,
    storeStatus: () => status,
    checkStore,
    startChecks(intervalMs) {
      if (timer) return;
      timer = setInterval(() => { void checkStore(); }, intervalMs);
      timer.unref();
    },
    stopChecks() { clearInterval(timer); timer = undefined; },
    current: () => snapshot,
    state: () => structuredClone(state!),
    subscribe(fn) {
      subscribers.add(fn);
      return () => { subscribers.delete(fn); };
    },
    commit,
  };
}
