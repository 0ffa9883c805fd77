// The failover policy: a pure function of (routing state, health, config, now). It says what
// should happen; the controller does it. No timers, no I/O.
import type { ClusterHealth } from '../health/types.ts';
import { PASSIVE_PROBE } from '../health/index.ts';
import { isMovingState, isStickyHold, restingState, type FailoverStateName, type RoutingState } from '../routing/index.ts';

export interface PolicyInput {
  state: RoutingState;
  health: readonly ClusterHealth[];
  clusters: readonly string[];       // preference order; the first is the preferred (primary)
  automatic: boolean;
  cooldownMs: number;
  now: number;                       // ms since the epoch
}

export type Decision =
  | { action: 'none' }
  | { action: 'set-state'; state: Extract<FailoverStateName, 'steady' | 'suspect' | 'failed-over' | 'held'>; reason: string }
  | { action: 'failover'; from: string; to: string; reason: string };

const NONE: Decision = { action: 'none' };

/** The configured probes; the passive signal (proxy errors) is evidence for the verdict, not a probe to report. */
const activeProbes = (h: ClusterHealth) => h.probes.filter((p) => p.name !== PASSIVE_PROBE);

function describeDown(h: ClusterHealth): string {
  const failed = activeProbes(h).filter((p) => p.ok === false);
  const known = activeProbes(h).filter((p) => p.ok !== null).length;
  return failed.length === 0 ? 'no passing probe' : `${failed.length}/${known} probes failing (${failed.map((p) => `${p.name}: ${p.error ?? 'failed'}`).join('; ')})`;
}

export function decide(input: PolicyInput): Decision {
  const { state, health, clusters } = input;
  if (isMovingState(state.state) || isStickyHold(state)) return NONE;
  const active = health.find((h) => h.name === state.active);
  if (!active || active.healthy === null) return NONE;
  const preferred = clusters[0];
  const rest = restingState(state, preferred);
  const change = (to: Extract<Decision, { action: 'set-state' }>['state'], reason: string): Decision =>
    (state.state === to && state.reason === reason ? NONE : { action: 'set-state', state: to, reason });

  if (active.healthy) {
    const failing = activeProbes(active).filter((p) => p.ok === false);
    if (failing.length > 0) return change('suspect', `${state.active} is healthy but ${failing.length}/${activeProbes(active).length} probes are failing: ${failing.map((p) => p.name).join(', ')}`);
    if (state.state === rest) return NONE;
    return change(rest, state.state === 'held' ? `${state.active} recovered; the hold is cleared` : `${state.active} is healthy`);
  }

  const down = `${state.active} is down: ${describeDown(active)}`;
  if (state.active !== preferred) {
    return change('held', `${down}; no automatic move after a failover: bring ${preferred} back as a replica and run 'switchyard failback', or 'switchyard failover --to CLUSTER --force'`);
  }
  if (!input.automatic) return change('held', `${down}; automatic failover is off: a person decides ('switchyard failover --to CLUSTER')`);
  const target = clusters.find((name) => name !== state.active && health.find((h) => h.name === name)?.healthy === true);
  if (!target) return change('held', `${down}; no healthy cluster to fail over to`);
  const last = state.transition;
  if (last?.finishedAt !== undefined && input.now - Date.parse(last.finishedAt) < input.cooldownMs) {
    const until = new Date(Date.parse(last.finishedAt) + input.cooldownMs).toISOString();
    return change('held', `${down}; within the failover cooldown until ${until} ('switchyard failover --to ${target} --force' overrides)`);
  }
  return { action: 'failover', from: state.active, to: target, reason: down };
}
