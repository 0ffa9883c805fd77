// The routing state holder: loads (or initialises) the stored state, serves immutable
// snapshots to readers, and applies the controller's changes: write to the store first, then
// swap the snapshot and notify subscribers. Writes are serialised.
import { SwitchyardError } from '../errors.ts';
import type { RoutingSnapshot, RoutingSource, RoutingState, StateStore } from './types.ts';

export interface Routing extends RoutingSource {
  /** The full state (journal included), as last committed. */
  state(): RoutingState;
  /** Applies `change` to the current state and stores it; the new state is returned. Serialised. */
  commit(change: (current: RoutingState) => Omit<RoutingState, 'generation' | 'updatedAt' | 'version'>): Promise<RoutingState>;
  /**
   * Takes a state another instance (the leader) committed to the shared store, as its watch
   * delivered it: swaps the snapshot and notifies, without writing. Older or equal generations
   * are ignored (returns false), so the leader's own writes coming back are no-ops.
   */
  adopt(committed: RoutingState): boolean;
}

export interface RoutingDeps { store: StateStore; clusters: readonly string[]; now?: () => Date }

export function initialState(primary: string, now: Date): RoutingState {
  return { version: 1, generation: 1, epoch: 0, active: primary, state: 'steady', reason: 'initial state: the first configured cluster is active', transition: null, updatedAt: now.toISOString() };
}

const toSnapshot = (s: RoutingState): RoutingSnapshot => Object.freeze({ generation: s.generation, epoch: s.epoch, active: s.active, state: s.state });

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
  let snapshot = toSnapshot(state);
  const subscribers = new Set<(s: RoutingSnapshot) => void>();
  let queue: Promise<unknown> = Promise.resolve();

  const commit: Routing['commit'] = (change) => {
    const run = async () => {
      const prev = state!;
      const body = change(structuredClone(prev));
      if (!deps.clusters.includes(body.active)) {
        throw new SwitchyardError('SWY_STATE_UNKNOWN_CLUSTER', `cannot make unknown cluster ${body.active} active`, { active: body.active });
      }
      const next: RoutingState = { ...body, version: 1, generation: prev.generation + 1, updatedAt: now().toISOString() };
      await deps.store.save(next, prev.generation);
      state = next;
      snapshot = toSnapshot(next);
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
    snapshot = toSnapshot(state);
    for (const fn of subscribers) fn(snapshot);
    return true;
  };

  return {
    adopt,
    current: () => snapshot,
    state: () => structuredClone(state!),
    subscribe(fn) {
      subscribers.add(fn);
      return () => { subscribers.delete(fn); };
    },
    commit,
  };
}
