// Parity between the clusters, the reading part: what each cluster has of the objects that
// parity.namespaces names, through the cluster's own Kubernetes clients. Two passes: the
// Deployments (and the HPAs that scale them) first, then every ConfigMap, Secret and PVC that
// the configuration names or that either cluster's pod templates use, so an object referenced on
// one side only is still compared on both. A 404 is an absent object; any other error makes
// parity unknown (SWY_PARITY_UNKNOWN), never "no difference".
//
// Images are compared by the digest the Deployment's pods report (status.containerStatuses[].imageID,
// pods listed by the Deployment's selector.matchLabels) and fall back to the template reference
// (by its own @sha256 digest when it has one) when no pod reports a digest for that container.
//
// ConfigMaps and Secrets are compared by an HMAC-SHA256 of their content under a key made for
// this one comparison: equal content gives equal digests within the comparison, while the digest
// shown or logged cannot be checked against guesses of a low-entropy secret later.
import { crypto } from '../node-builtins.ts';
import type { ClusterConfig, ParityConfig, ParityNamespace } from '../config/index.ts';
import { SwitchyardError, describeError } from '../errors.ts';
import type { KubernetesClients, KubernetesClientsFor } from '../kubernetes.ts';
import { compareInventories, type Inventory, type ObjectFacts, type ParityReport } from './compare.ts';

const { createHmac, randomBytes } = crypto;

interface PodSpecLike {
  containers?: Array<{ name: string; image?: string; envFrom?: Array<{ configMapRef?: { name?: string }; secretRef?: { name?: string } }>; env?: Array<{ valueFrom?: { configMapKeyRef?: { name?: string }; secretKeyRef?: { name?: string } } }> }>;
  initContainers?: PodSpecLike['containers'];
  volumes?: Array<{ configMap?: { name?: string }; secret?: { secretName?: string }; persistentVolumeClaim?: { claimName?: string }; projected?: { sources?: Array<{ configMap?: { name?: string }; secret?: { name?: string } }> } }>;
}

interface Refs { configMaps: Set<string>; secrets: Set<string>; pvcs: Set<string> }

/** The ConfigMaps, Secrets and PVCs a pod template uses. */
export function podTemplateRefs(spec: PodSpecLike | undefined, into: Refs): void {
  if (!spec) return;
  const add = (set: Set<string>, name: string | undefined) => { if (name) set.add(name); };
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const f of c.envFrom ?? []) { add(into.configMaps, f.configMapRef?.name); add(into.secrets, f.secretRef?.name); }
    for (const e of c.env ?? []) { add(into.configMaps, e.valueFrom?.configMapKeyRef?.name); add(into.secrets, e.valueFrom?.secretKeyRef?.name); }
  }
  for (const v of spec.volumes ?? []) {
    add(into.configMaps, v.configMap?.name);
    add(into.secrets, v.secret?.secretName);
    add(into.pvcs, v.persistentVolumeClaim?.claimName);
    for (const s of v.projected?.sources ?? []) { add(into.configMaps, s.configMap?.name); add(into.secrets, s.secret?.name); }
  }
}

function contentHash(key: Buffer, content: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(content).sort().map((k) => [k, content[k]]));
  return `hmac:${createHmac('sha256', key).update(canonical).digest('hex').slice(0, 16)}`;
}

interface Reader {
  cluster: ClusterConfig;
  clients: KubernetesClients;
  signal: AbortSignal;
}

/** Runs a read; 404 → undefined; any other error → SWY_PARITY_UNKNOWN naming the cluster and the object. */
async function readOrAbsent<T>(r: Reader, what: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const swy = r.clients.error(err, `${what} in cluster ${r.cluster.name}`, r.signal);
    if (swy.code === 'SWY_KUBE_NOT_FOUND') return undefined;
    throw new SwitchyardError('SWY_PARITY_UNKNOWN', `parity unknown: ${describeError(swy)}`, { cluster: r.cluster.name, cause: swy.code }, { cause: swy });
  }
}

/** `docker-pullable://repo@sha256:...`, `repo@sha256:...` → `sha256:...`; anything else (no digest yet) → undefined. */
export function statusDigest(imageID: string | undefined): string | undefined {
  const at = imageID?.lastIndexOf('@sha256:') ?? -1;
  if (at >= 0) return imageID!.slice(at + 1);
  return imageID?.startsWith('sha256:') ? imageID : undefined;
}

/** The template reference with the digests the pods run instead of its own (sorted, comma-joined while a rollout mixes them). */
export function withDigests(image: string, digests: Set<string> | undefined): string {
  if (!digests || digests.size === 0) return image;
  const at = image.indexOf('@');
  return `${at >= 0 ? image.slice(0, at) : image}@${[...digests].sort().join(',')}`;
}

/** Per container name, the image digests the Deployment's pods report in status.containerStatuses[].imageID. */
async function runningDigests(r: Reader, ns: string, matchLabels: Record<string, string> | undefined): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  if (!matchLabels || Object.keys(matchLabels).length === 0) return out;
  const labelSelector = Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`).join(',');
  const pods = await readOrAbsent(r, `list pods ${labelSelector} in namespace ${ns}`, () => r.clients.core.listNamespacedPod({ namespace: ns, labelSelector }, r.clients.requestOptions(r.signal)));
  for (const p of pods?.items ?? []) {
    for (const cs of p.status?.containerStatuses ?? []) {
      const digest = statusDigest(cs.imageID);
      if (!digest) continue;
      const set = out.get(cs.name) ?? new Set<string>();
      set.add(digest);
      out.set(cs.name, set);
    }
  }
  return out;
}

async function readWorkloads(r: Reader, ns: ParityNamespace, inventory: Inventory, refs: Refs): Promise<void> {
  if (ns.deployments.length === 0) return;
  const opts = r.clients.requestOptions(r.signal);
  const hpas = await readOrAbsent(r, `list hpas in namespace ${ns.name}`, () => r.clients.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: ns.name }, opts));
  for (const name of ns.deployments) {
    const d = await readOrAbsent(r, `read deployment ${ns.name}/${name}`, () => r.clients.apps.readNamespacedDeployment({ namespace: ns.name, name }, opts));
    const key = `deployment ${ns.name}/${name}`;
    if (!d) { inventory.set(key, { kind: 'deployment', present: false, images: {}, reachable: 0, reachableFrom: 'absent' }); continue; }
    const pod = d.spec?.template?.spec as PodSpecLike | undefined;
    podTemplateRefs(pod, refs);
    const digests = await runningDigests(r, ns.name, d.spec?.selector?.matchLabels);
    const images: Record<string, string> = {};
    for (const c of pod?.containers ?? []) images[c.name] = withDigests(c.image ?? '', digests.get(c.name));
    const hpa = hpas?.items.find((h) => h.spec?.scaleTargetRef?.kind === 'Deployment' && h.spec.scaleTargetRef.name === name);
    const reachable = hpa ? hpa.spec!.maxReplicas : d.spec?.replicas ?? 1;
    const reachableFrom = hpa ? `hpa ${hpa.metadata?.name} maxReplicas` : 'spec.replicas, no hpa';
    inventory.set(key, { kind: 'deployment', present: true, images, reachable, reachableFrom });
  }
}

async function readObjects(r: Reader, ns: string, names: { configMaps: string[]; secrets: string[]; services: string[]; ingresses: string[]; pvcs: string[] }, key: Buffer, inventory: Inventory): Promise<void> {
  const opts = r.clients.requestOptions(r.signal);
  const { core, networking } = r.clients;
  for (const name of names.configMaps) {
    const o = await readOrAbsent(r, `read configmap ${ns}/${name}`, () => core.readNamespacedConfigMap({ namespace: ns, name }, opts));
    inventory.set(`configmap ${ns}/${name}`, { kind: 'configmap', present: o !== undefined, hash: o ? contentHash(key, { data: o.data ?? {}, binaryData: o.binaryData ?? {} }) : '' });
  }
  for (const name of names.secrets) {
    const o = await readOrAbsent(r, `read secret ${ns}/${name}`, () => core.readNamespacedSecret({ namespace: ns, name }, opts));
    inventory.set(`secret ${ns}/${name}`, { kind: 'secret', present: o !== undefined, hash: o ? contentHash(key, { type: o.type ?? 'Opaque', data: o.data ?? {} }) : '' });
  }
  const presence = async (kind: 'service' | 'ingress' | 'persistentvolumeclaim', list: string[], read: (name: string) => Promise<unknown>) => {
    for (const name of list) {
      const o = await readOrAbsent(r, `read ${kind} ${ns}/${name}`, () => read(name));
      inventory.set(`${kind} ${ns}/${name}`, { kind, present: o !== undefined } as ObjectFacts);
    }
  };
  await presence('service', names.services, (name) => core.readNamespacedService({ namespace: ns, name }, opts));
  await presence('ingress', names.ingresses, (name) => networking.readNamespacedIngress({ namespace: ns, name }, opts));
  await presence('persistentvolumeclaim', names.pvcs, (name) => core.readNamespacedPersistentVolumeClaim({ namespace: ns, name }, opts));
}

/**
 * Compares clusters `a` and `b` as parity.namespaces says, within parity.timeout. Throws
 * SWY_PARITY_UNKNOWN when a cluster cannot be read (or the timeout passes).
 */
export async function compareClusters(parity: ParityConfig, pair: [ClusterConfig, ClusterConfig], deps: { clientsFor: KubernetesClientsFor; now?: () => number; signal?: AbortSignal }): Promise<ParityReport> {
  const signal = deps.signal ? AbortSignal.any([deps.signal, AbortSignal.timeout(parity.timeout)]) : AbortSignal.timeout(parity.timeout);
  const readers: Reader[] = pair.map((cluster) => {
    if (!cluster.kubernetes) throw new SwitchyardError('SWY_PARITY_UNKNOWN', `parity unknown: cluster ${cluster.name} has no kubernetes settings`, { cluster: cluster.name });
    let clients: KubernetesClients;
    try {
      clients = deps.clientsFor(cluster);
    } catch (err) {
      throw new SwitchyardError('SWY_PARITY_UNKNOWN', `parity unknown: ${describeError(err)}`, { cluster: cluster.name }, { cause: err });
    }
    return { cluster, clients, signal };
  });
  const key = randomBytes(32);
  const inventories: Inventory[] = [new Map(), new Map()];
  for (const ns of parity.namespaces) {
    const refs: Refs = { configMaps: new Set(ns.configMaps), secrets: new Set(ns.secrets), pvcs: new Set(ns.persistentVolumeClaims) };
    await Promise.all(readers.map((r, i) => readWorkloads(r, ns, inventories[i], refs)));
    const names = { configMaps: [...refs.configMaps].sort(), secrets: [...refs.secrets].sort(), services: ns.services, ingresses: ns.ingresses, pvcs: [...refs.pvcs].sort() };
    await Promise.all(readers.map((r, i) => readObjects(r, ns.name, names, key, inventories[i])));
  }
  const checkedAt = new Date((deps.now ?? Date.now)()).toISOString();
  return compareInventories({ cluster: pair[0].name, inventory: inventories[0] }, { cluster: pair[1].name, inventory: inventories[1] }, parity.blocking, checkedAt);
}
