// The parity slice of the configuration: `parity` (what to compare between the two clusters, how
// often, and which differences block a failover). Declared once with src/config/schema.ts;
// src/config composes it.
import * as s from '../config/schema.ts';
import { join, type Issues } from '../config/fields.ts';

/** Kinds of difference between the clusters that the parity comparison reports. */
export type ParityKind = 'image' | 'capacity' | 'configmap' | 'secret' | 'missing';
export interface ParityNamespace {
  name: string;
  deployments: string[];
  configMaps: string[];
  secrets: string[];
  services: string[];
  ingresses: string[];
  persistentVolumeClaims: string[];
}
export interface ParityConfig {
  interval: number;                // serve compares this often; 0: only prechecks and `switchyard check`
  timeout: number;                 // one comparison, both clusters
  blocking: ParityKind[];          // kinds that fail the parity precheck and make `check` exit 3
  namespaces: ParityNamespace[];
}

const DAY = 86_400_000;
const PARITY_KINDS: readonly ParityKind[] = ['image', 'capacity', 'configmap', 'secret', 'missing'];
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const objects = (description: string) => s.list(s.string({ description: 'a name', pattern: K8S_NAME, what: 'a Kubernetes object name' }), { default: [], description, doc: { type: 'list of names' } });
const OBJECT_KEYS = ['deployments', 'configMaps', 'secrets', 'services', 'ingresses', 'persistentVolumeClaims'] as const;

export const paritySchema = s.object({
  interval: s.custom<number>({ anyOf: [{ const: '0s' }, { type: 'string', pattern: '^\\d+(\\.\\d+)?(ms|s|m|h)$' }] }, (v, p, issues) => (v === '0s' ? 0 : s.readNode(s.duration(1000, DAY, { description: '' }), v, p, issues)), {
    type: 'duration', default: '1m', description: 'how often `serve` compares; `0s`: only the precheck and `switchyard check`', doc: { range: '`0s`, or 1s..24h' },
  }),
  timeout: s.duration(100, 600_000, { default: '10s', description: 'one comparison of both clusters; a cluster not read in time makes parity unknown' }),
  blocking: s.list(s.oneOf(PARITY_KINDS, { description: 'a kind of difference' }), { default: [...PARITY_KINDS], description: 'the kinds of difference that fail the precheck and make `check` exit 3; the others are reported only', doc: { type: 'list of kinds', default: 'all: `[image, capacity, configmap, secret, missing]`' } }),
  namespaces: s.list(s.object({
    name: s.string({ description: 'the namespace (the same in both clusters)', pattern: K8S_NAME, what: 'a Kubernetes namespace name', doc: { type: 'string', range: 'a Kubernetes name' } }),
    deployments: objects('Deployments: container images (by the digest the Deployment\'s pods report in `status.containerStatuses[].imageID`, pods found by its `spec.selector.matchLabels`; when no pod reports one, by the template reference, by its digest when it has one; RBAC `list` on `pods`), and the replicas each cluster can reach (the `maxReplicas` of an HPA that scales it, else `spec.replicas`). The ConfigMaps, Secrets and PVCs their pod template uses (volumes, `envFrom`, `env[].valueFrom`) are compared too'),
    configMaps: objects('ConfigMaps compared by content hash (`data` and `binaryData`)'),
    secrets: objects('Secrets compared by content hash (`data`)'),
    services: objects('Services that must exist on both sides'),
    ingresses: objects('Ingresses that must exist on both sides'),
    persistentVolumeClaims: objects('PVCs that must exist on both sides'),
  }, { description: 'one namespace and what to compare in it' }), { min: 1, description: 'what to compare, per namespace' }),
}, { description: 'What the two clusters must have alike before traffic moves between them.' });

/** `kubernetes[i]`: whether cluster i has Kubernetes access (parity reads both APIs). */
export function readParity(v: unknown, kubernetes: readonly boolean[] | undefined, issues: Issues): ParityConfig | undefined {
  const before = issues.length;
  const r = s.readNode(paritySchema, v, 'parity', issues);
  (kubernetes ?? []).forEach((k, i) => {
    if (!k) issues.push({ path: `clusters[${i}].kubernetes`, message: 'is required: parity compares the clusters through their Kubernetes API' });
  });
  // Checked on what was written, item by item, so they show beside the other items' errors.
  const raw = v !== null && typeof v === 'object' ? (v as { namespaces?: unknown }).namespaces : undefined;
  const seen = new Set<string>();
  (Array.isArray(raw) ? raw : []).forEach((n: unknown, i) => {
    if (n === null || typeof n !== 'object' || Array.isArray(n)) return;
    const rec = n as Record<string, unknown>;
    const p = join('parity.namespaces', i);
    if (typeof rec.name === 'string' && K8S_NAME.test(rec.name)) {
      if (seen.has(rec.name)) issues.push({ path: join(p, 'name'), message: `namespace ${rec.name} is listed twice` });
      seen.add(rec.name);
    }
    if (OBJECT_KEYS.every((k) => rec[k] === undefined || (Array.isArray(rec[k]) && rec[k].length === 0))) issues.push({ path: p, message: `names nothing to compare: list at least one of ${OBJECT_KEYS.join(', ')}` });
  });
  if (!r) return undefined;
  if (issues.length !== before) return undefined;
  return { interval: r.interval, timeout: r.timeout, blocking: r.blocking, namespaces: r.namespaces };
}
