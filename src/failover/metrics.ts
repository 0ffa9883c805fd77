// The failover metrics, registered once per controller on the registry it is given.
import { Counter, Gauge, Histogram, type Registry } from '../prom-client-parts.ts';

export function createFailoverMetrics(registry: Registry) {
  const registers = [registry];
  return {
    state: new Gauge({ name: 'switchyard_failover_state', help: '1 for the current failover state, 0 for the others', labelNames: ['state'], registers }),
    held: new Gauge({ name: 'switchyard_failover_held', help: '1 while failover is held (a precheck or a step failed, or a person must decide): alert on it', registers }),
    transitions: new Counter({ name: 'switchyard_failover_transitions_total', help: 'Transitions by kind and outcome', labelNames: ['kind', 'outcome'], registers }),
    stepSeconds: new Histogram({ name: 'switchyard_failover_step_duration_seconds', help: 'Duration of each step attempt', labelNames: ['step', 'result'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300], registers }),
    precheckFailures: new Counter({ name: 'switchyard_failover_precheck_failures_total', help: 'Prechecks that failed and blocked a move', labelNames: ['check'], registers }),
    precheckWarnings: new Counter({ name: 'switchyard_failover_precheck_warnings_total', help: 'Prechecks of notification steps (webhook, or exec with onFailure: continue) that failed; reported, never blocking', labelNames: ['check'], registers }),
    lastTransitionTime: new Gauge({ name: 'switchyard_failover_last_transition_timestamp_seconds', help: 'When the last transition finished (completed or held)', registers }),
    unfenced: new Gauge({ name: 'switchyard_failover_old_primary_unfenced', help: '1 while the source of the last move could not be fenced (it did not answer) and may take writes: alert on it', registers }),
  };
}

export type FailoverMetrics = ReturnType<typeof createFailoverMetrics>;
