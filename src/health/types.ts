// What the health module tells the rest: per-probe status and the per-cluster verdict.
// Probes report pass or fail only; rise/fall counting lives in one pure place (thresholds.ts).

export interface Probe {
  readonly name: string;
  /** Resolves when the check passes; rejects (with a reason) when it fails. Must honour the signal. */
  check(signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}

export interface ProbeStatus {
  name: string;
  ok: boolean | null;          // null until the first verdict
  latencyMs: number | null;
  error: string | null;
  checkedAt: string | null;
}

export interface ClusterHealth {
  name: string;
  healthy: boolean | null;     // null until enough results for a verdict
  probes: ProbeStatus[];
  since: string | null;        // when the verdict last changed
}

export interface HealthSource {
  clusters(): ClusterHealth[];
  /** Called on every verdict change of a cluster. */
  subscribe(fn: (cluster: ClusterHealth) => void): () => void;
  /** Passive signal (e.g. the proxy could not connect upstream): counts like a failed probe. */
  reportPassiveFailure(cluster: string, reason: string): void;
}
