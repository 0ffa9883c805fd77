// The routing state's vocabulary: the state names, what "a move in progress" means, and the
// named transitions the failover controller commits. Each transition is a pure builder
// `(state, args) => next body` for `Routing.commit`: no clock (times come in as arguments), no
// I/O. Only here is a RoutingState rebuilt by hand, so every write that leaves `held` drops the
// hold's code and a move's journal only ever grows.
import type { FailoverStateName, JournalEntry, RoutingState, Transition, TransitionKind, UnfencedSource } from './types.ts';

/** Every failover state, in the order of the workflow (metrics label each; the validator knows no others). */
export const FAILOVER_STATES: readonly FailoverStateName[] = ['steady', 'suspect', 'precheck', 'failing-over', 'failed-over', 'held', 'failing-back'];

/** What `Routing.commit`'s change returns: a state without the fields the holder sets. */
export type StateBody = Omit<RoutingState, 'generation' | 'updatedAt' | 'version'>;

/** The states in which a move runs steps. */
export const isMovingState = (state: FailoverStateName): boolean => state === 'failing-over' || state === 'failing-back';

/** A move is in progress: a moving state with an unfinished transition (running, or interrupted with nobody running it). */
export const moveInProgress = (s: RoutingState): s is RoutingState & { transition: Transition } =>
  isMovingState(s.state) && s.transition !== null && s.transition.finishedAt === undefined;

/** The target of the move in progress, or null (at rest, held, or the move finished). */
export const inProgressTarget = (s: RoutingState): string | null => (moveInProgress(s) ? s.transition.to : null);

/** A hold that only a person may clear: a step failed mid-transition. */
export const isStickyHold = (s: RoutingState): boolean => s.state === 'held' && s.transition?.outcome === 'held' && s.transition.finishedAt === undefined;

/** The transition is unfinished (running, interrupted or held mid-way). */
const unfinished = (s: RoutingState): boolean => s.transition !== null && s.transition.finishedAt === undefined;

/** The resting state when nothing is moving: steady on the preferred cluster, failed-over elsewhere. */
export const restingState = (s: Pick<RoutingState, 'active'>, preferred: string): 'steady' | 'failed-over' => (s.active === preferred ? 'steady' : 'failed-over');

const movingState = (kind: TransitionKind): 'failing-over' | 'failing-back' => (kind === 'failback' ? 'failing-back' : 'failing-over');

/** A hold's code lives in the state only while it is held. */
function body(next: RoutingState): StateBody {
  const { generation: _g, updatedAt: _u, version: _v, ...rest } = next;
  if (rest.state === 'held') return rest;
  const { holdCode: _dropped, ...notHeld } = rest;
  return notHeld;
}

/** The policy's verdict at rest (steady, suspect, failed-over): no move is touched. */
export function settle(s: RoutingState, state: 'steady' | 'suspect' | 'failed-over', reason: string): StateBody {
  return body({ ...s, state, reason });
}

/** An automatic move is being prechecked; nothing has moved. */
export function precheck(s: RoutingState, reason: string): StateBody {
  return body({ ...s, state: 'precheck', reason });
}

export interface BeginArgs { kind: TransitionKind; from: string; to: string; reason: string; forced: boolean; at: string; journal?: JournalEntry[]; term?: number }

/** A move starts: the next epoch, a moving state, and a transition whose journal holds what the prechecks found. */
export function begin(s: RoutingState, a: BeginArgs): StateBody {
  const epoch = s.epoch + 1;
  return body({
    ...s, epoch, state: movingState(a.kind), reason: `${a.kind} ${a.from}→${a.to}: ${a.reason}`,
    transition: { epoch, kind: a.kind, from: a.from, to: a.to, reason: a.reason, forced: a.forced, startedAt: a.at, journal: a.journal ?? [], ...(a.term === undefined ? {} : { term: a.term }) },
  });
}

function requireTransition(s: RoutingState, what: string): Transition {
  if (s.transition === null) throw new Error(`${what}: the routing state has no transition`);
  return s.transition;
}

/** Appends one journal entry; with `unfenced`, records the unfenced old primary in the same write. */
export function journal(s: RoutingState, entry: JournalEntry, also: { unfenced?: UnfencedSource } = {}): StateBody {
  const t = requireTransition(s, 'journal');
  return body({ ...s, ...(also.unfenced ? { unfenced: also.unfenced } : {}), transition: { ...t, journal: [...t.journal, entry] } });
}

/** Traffic moves to `to`; with `entry` (switch-traffic's done), the move and its journal entry are one write. */
export function switchTraffic(s: RoutingState, to: string, entry?: JournalEntry): StateBody {
  const moved: RoutingState = { ...s, active: to };
  return entry ? journal(moved, entry) : body(moved);
}

/** The state holds with `code` (docs/errors.md); a move in progress is marked held (sticky: a person resumes or clears it). */
export function hold(s: RoutingState, code: string, reason: string): StateBody {
  const t = unfinished(s) ? { ...s.transition!, outcome: 'held' as const } : s.transition;
  return body({ ...s, state: 'held', holdCode: code, reason, transition: t });
}

/** The policy holds (automation off, after a failover, cooldown, no target): the move, if any, is not touched. */
export function holdAtRest(s: RoutingState, code: string, reason: string): StateBody {
  return body({ ...s, state: 'held', holdCode: code, reason });
}

/** A held move runs again on request, forced if either the move or the request was. */
export function resume(s: RoutingState, a: { reason: string; forced: boolean }): StateBody {
  const t = requireTransition(s, 'resume');
  const { outcome: _held, ...running } = t;
  return body({ ...s, state: movingState(t.kind), reason: `resuming ${t.kind}: ${a.reason}`, transition: { ...running, forced: t.forced || a.forced } });
}

/** Every step is done: the move completed; the state rests on its new active. */
export function finish(s: RoutingState, a: { preferred: string; at: string }): StateBody {
  const t = requireTransition(s, 'finish');
  return body({ ...s, state: restingState(s, a.preferred), reason: `${t.kind} ${t.from}→${t.to} completed (epoch ${t.epoch}): ${t.reason}`, transition: { ...t, finishedAt: a.at, outcome: 'completed' } });
}

/** A person cleared a step hold (`failover --to <active> --force`): the move ends where it is, nothing more runs. */
export function clearHold(s: RoutingState, a: { preferred: string; reason: string; at: string }): StateBody {
  const t = requireTransition(s, 'clearHold');
  return body({ ...s, state: restingState(s, a.preferred), reason: `hold cleared by request: ${a.reason}`, transition: { ...t, finishedAt: a.at } });
}
