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
}

export interface RoutingDeps { store: StateStore; clusters: readonly string[]; now?: () => Date }

export function initialState(primary: string, now: Date): RoutingState {
  return { version: 1, generation: 1, epoch: 0, active: primary, state: 'steady', reason: 'initial state: the first configured cluster is active', transition: null, updatedAt: now.toISOString() };
}

/** The target of the transition in progress, or null (at rest, held, or the move finished). */
export const inProgressTarget = (s: RoutingState): string | null =>
  (s.state === 'failing-over' || s.state === 'failing-back') && s.transition !== null && s.transition.finishedAt === undefined ? s.transition.to : null;

const toSnapshot = (s: RoutingState): RoutingSnapshot => Object.freeze({ generation: s.generation, epoch: s.epoch, active: s.active, state: s.state, retryTo: inProgressTarget(s) });

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

  return {
    current: () => snapshot,
    state: () => structuredClone(state!),
    subscribe(fn) {
      subscribers.add(fn);
      return () => { subscribers.delete(fn); };
    },
    commit,
  };
}
