// The cluster verdict from its probes' verdicts, by the cluster's `healthyWhen`. Pure.
//
// Three-valued: a probe verdict is true (up), false (down) or null (not known yet). The cluster
// verdict is decided as soon as the known probes decide it whatever the unknown ones turn out to
// be, and is null otherwise:
//   all       down if any probe is down; up once every probe is up
//   any       up if any probe is up; down once every probe is down
//   atLeast N up once N probes are up; down once fewer than N can still be up
// A cluster without probes is never known (the configuration requires at least one).
import type { HealthyWhen } from '../config/index.ts';

export function clusterVerdict(healthyWhen: HealthyWhen, probes: readonly (boolean | null)[]): boolean | null {
  if (probes.length === 0) return null;
  let up = 0;
  let unknown = 0;
  for (const p of probes) {
    if (p === true) up++;
    else if (p === null) unknown++;
  }
  const need = healthyWhen.mode === 'all' ? probes.length : healthyWhen.mode === 'any' ? 1 : healthyWhen.n;
  if (up >= need) return true;
  if (up + unknown < need) return false;
  return null;
}
