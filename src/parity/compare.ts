// Parity between the clusters, the pure part: two clusters' facts in, the differences out. No I/O.
import type { ParityKind } from '../config/index.ts';

/** What one cluster says about one object; absent objects have present: false. */
export type ObjectFacts =
  | { kind: 'deployment'; present: boolean; images: Record<string, string>; reachable: number; reachableFrom: string }
  | { kind: 'configmap' | 'secret'; present: boolean; hash: string }
  | { kind: 'service' | 'ingress' | 'persistentvolumeclaim'; present: boolean };

/** Facts per object key (`deployment app/web`), per cluster. */
export type Inventory = Map<string, ObjectFacts>;

export interface ParityDifference {
  kind: ParityKind;
  /** `deployment app/web container app`, `configmap app/web-config`, ... */
  object: string;
  /** What each cluster has, for a person: an image, a short hash, `absent`, `10 (hpa web maxReplicas)`. Never a value. */
  values: Record<string, string>;
  /** capacity only: the cluster that can reach fewer replicas. */
  short?: string;
  /** The kind is in parity.blocking. */
  blocking: boolean;
}

export interface ParityReport {
  clusters: [string, string];
  checkedAt: string;
  differences: ParityDifference[];
  /** Some difference is blocking. */
  blocking: boolean;
}

/** An image reference compared by its digest when it has one (`repo:tag@sha256:...`). */
export function imageIdentity(image: string): string {
  const at = image.indexOf('@sha256:');
  return at >= 0 ? image.slice(at + 1) : image;
}

const kindOf = (facts: ObjectFacts): ParityKind | undefined =>
  facts.kind === 'configmap' ? 'configmap' : facts.kind === 'secret' ? 'secret' : undefined;

export function compareInventories(a: { cluster: string; inventory: Inventory }, b: { cluster: string; inventory: Inventory }, blocking: readonly ParityKind[], checkedAt: string): ParityReport {
  const differences: ParityDifference[] = [];
  const add = (d: Omit<ParityDifference, 'blocking'>) => differences.push({ ...d, blocking: blocking.includes(d.kind) });
  const keys = [...new Set([...a.inventory.keys(), ...b.inventory.keys()])].sort();
  for (const key of keys) {
    const fa = a.inventory.get(key);
    const fb = b.inventory.get(key);
    if (!fa?.present || !fb?.present) {
      if (fa?.present || fb?.present) add({ kind: 'missing', object: key, values: { [a.cluster]: fa?.present ? 'present' : 'absent', [b.cluster]: fb?.present ? 'present' : 'absent' } });
      else add({ kind: 'missing', object: key, values: { [a.cluster]: 'absent', [b.cluster]: 'absent' } });
      continue;
    }
    if (fa.kind === 'deployment' && fb.kind === 'deployment') {
      for (const container of [...new Set([...Object.keys(fa.images), ...Object.keys(fb.images)])].sort()) {
        const ia = fa.images[container];
        const ib = fb.images[container];
        if (ia === undefined || ib === undefined || imageIdentity(ia) !== imageIdentity(ib)) {
          add({ kind: 'image', object: `${key} container ${container}`, values: { [a.cluster]: ia ?? 'no such container', [b.cluster]: ib ?? 'no such container' } });
        }
      }
      if (fa.reachable !== fb.reachable) {
        add({
          kind: 'capacity', object: key, short: fa.reachable < fb.reachable ? a.cluster : b.cluster,
          values: { [a.cluster]: `${fa.reachable} (${fa.reachableFrom})`, [b.cluster]: `${fb.reachable} (${fb.reachableFrom})` },
        });
      }
      continue;
    }
    if ((fa.kind === 'configmap' || fa.kind === 'secret') && fa.kind === fb.kind && fa.hash !== fb.hash) {
      add({ kind: kindOf(fa)!, object: key, values: { [a.cluster]: `content ${fa.hash}`, [b.cluster]: `content ${fb.hash}` } });
    }
  }
  return { clusters: [a.cluster, b.cluster], checkedAt, differences, blocking: differences.some((d) => d.blocking) };
}

/**
 * The differences that block a move to `target`: blocking kinds, except a capacity difference
 * where the target is the larger side (a target that can reach more replicas is no risk).
 */
export function blockingFor(report: ParityReport, target: string): ParityDifference[] {
  return report.differences.filter((d) => d.blocking && (d.kind !== 'capacity' || d.short === target));
}

export function describeDifference(d: ParityDifference): string {
  return `${d.kind} ${d.object}: ${Object.entries(d.values).map(([c, v]) => `${c} ${v}`).join(', ')}`;
}

/**
 * One line for a person: `parity east ↔ west: no differences`, or the count and each difference's
 * kind and object (`... 2 difference(s), 1 blocking: image deployment app/web container app; ...`).
 * `switchyard check`'s heading, and the status views' parity line (console page, `switchyard status`).
 */
export function summarizeReport(report: ParityReport, withObjects = true): string {
  const [a, b] = report.clusters;
  const n = report.differences.length;
  if (n === 0) return `parity ${a} ↔ ${b}: no differences`;
  const blocking = report.differences.filter((d) => d.blocking).length;
  const objects = withObjects ? `: ${report.differences.map((d) => `${d.kind} ${d.object}`).join('; ')}` : '';
  return `parity ${a} ↔ ${b}: ${n} difference(s), ${blocking} blocking${objects}`;
}

/** A plain-text table for `switchyard check`. */
export function formatReport(report: ParityReport): string {
  const [a, b] = report.clusters;
  if (report.differences.length === 0) return `${summarizeReport(report)} (${report.checkedAt})`;
  const rows = [['kind', 'object', a, b, 'blocking'], ...report.differences.map((d) => [d.kind, d.object, d.values[a], d.values[b], d.blocking ? 'yes' : 'no'])];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [
    `${summarizeReport(report, false)} (${report.checkedAt})`,
    '',
    line(rows[0]),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.slice(1).map(line),
  ].join('\n');
}
