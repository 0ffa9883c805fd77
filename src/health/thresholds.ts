// The one place where rise/fall counting happens. Pure: no timers, no I/O.
//
// A probe starts unknown (`up: null`). Its first verdict needs `rise` consecutive successes for
// up or `fall` consecutive failures for down, exactly like any later change; until then the
// probe (and a cluster that depends on it) stays unknown, and unknown is never "down": a fresh
// switchyard does not fail over just because its probes have not run yet.

export interface ThresholdState {
  /** The verdict: null until the first `rise` successes or `fall` failures in a row. */
  up: boolean | null;
  /** Consecutive successes, at most `rise`. */
  successes: number;
  /** Consecutive failures, at most `fall`. */
  failures: number;
}

export interface Thresholds { rise: number; fall: number }

export const UNKNOWN: ThresholdState = Object.freeze({ up: null, successes: 0, failures: 0 });

/** Applies one check result. `changed` is true when the verdict differs from the previous one. */
export function step(state: ThresholdState, ok: boolean, { rise, fall }: Thresholds): { state: ThresholdState; changed: boolean } {
  let next: ThresholdState;
  if (ok) {
    const successes = Math.min(state.successes + 1, rise);
    next = { up: successes >= rise ? true : state.up, successes, failures: 0 };
  } else {
    const failures = Math.min(state.failures + 1, fall);
    next = { up: failures >= fall ? false : state.up, successes: 0, failures };
  }
  return { state: next, changed: next.up !== state.up };
}

/**
 * Applies one passive failure (traffic to the cluster failed, seen outside the probes). It counts
 * as a failed check but never as the one that completes `fall`: a down verdict always needs at
 * least one failed active check. A probe that is already down is left as it is.
 */
export function stepPassive(state: ThresholdState, { fall }: Thresholds): ThresholdState {
  if (state.up === false) return state;
  return { up: state.up, successes: 0, failures: Math.max(state.failures, Math.min(state.failures + 1, fall - 1)) };
}

/**
 * Whether the next check should come at the quick confirm pace rather than after a whole
 * interval: while failures are accumulating towards a down verdict, and while a fresh probe is
 * still collecting its first `rise` successes. A down probe recovers at the normal pace, so `rise`
 * successes span (rise - 1) intervals.
 */
export function needsConfirmation(state: ThresholdState): boolean {
  return (state.up !== false && state.failures > 0) || (state.up === null && state.successes > 0);
}
