// A fake Kubernetes API server for tests: node:http on 127.0.0.1, port 0. It keeps the API
// server's semantics for the few routes switchyard uses (Status objects, resourceVersion
// compare-and-swap, 404/409/403/401, the scale subresource, MicroTime validation) so the real
// @kubernetes/client-node talks to it unchanged. It is a fake: see test/support/README.md for
// exactly what it covers and what it does not.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { applyPatch, PatchError, type Json } from './fake-kube-patch.ts';
import { freePort } from './ports.ts';

export type ReadyState = boolean | 'hang' | 'close';
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch';
export interface FakeRequest { method: string; path: string; contentType: string | undefined }

export interface FakeKubeApiOptions {
  /** When set, API requests must carry `Authorization: Bearer <token>` (else 401, or 403 for anonymous). */
  token?: string;
  /** Delay of the simulated deployment and HPA controllers, default 50 ms. */
  controllerDelayMs?: number;
  /** Endpoints per EndpointSlice, default 100 like the real EndpointSlice controller. */
  endpointsPerSlice?: number;
}

export interface DeploymentSetup {
  replicas: number;
  /** status.availableReplicas right now; default: replicas (capped by maxAvailable). */
  availableReplicas?: number;
  /** The simulated controller never makes more than this many replicas available (pods stuck Pending). */
  maxAvailable?: number;
  /** The pod template's spec; default one container `app` with image registry.example/app:1. */
  podSpec?: Obj;
}

export interface CnpgSetup { primary: string; source: string; systemID: string; timelineID?: number; lsn?: number; instances?: number }

export interface HpaSetup { minReplicas: number; maxReplicas: number; target?: string }

export interface FakeDeployment {
  metadata: { name: string; namespace: string; resourceVersion: string; generation: number };
  spec: { replicas: number };
  status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number; availableReplicas?: number };
}
export interface FakeHpa {
  metadata: { name: string; namespace: string; resourceVersion: string; generation: number };
  spec: { minReplicas: number; maxReplicas: number; scaleTargetRef: { apiVersion: string; kind: string; name: string } };
  status: { currentReplicas?: number; desiredReplicas: number };
}
export interface FakeLease {
  metadata: { name: string; namespace: string; resourceVersion: string };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface FakeKubeApi {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /**
   * Writes a kubeconfig (server http://127.0.0.1:PORT, insecure-skip-tls-verify, a token user) and
   * returns its path. With a context name, the file's current-context is another context that
   * points at a closed port, so a client that does not select the context fails.
   */
  kubeconfigPath(context?: string, options?: { token?: string }): string;
  addNamespace(ns: string): void;
  setDeployment(ns: string, name: string, setup: DeploymentSetup): void;
  deployment(ns: string, name: string): FakeDeployment | undefined;
  setHpa(ns: string, name: string, setup: HpaSetup): void;
  hpa(ns: string, name: string): FakeHpa | undefined;
  setEndpoints(ns: string, service: string, readyCount: number, notReadyCount: number): void;
  lease(ns: string, name: string): FakeLease | undefined;
  /** true: /readyz 200; false: /readyz and /livez 500; 'hang' / 'close': every request hangs / has its socket closed. */
  setReady(state: ReadyState): void;
  /** RBAC: `verb` on `resource` (e.g. 'patch', 'deployments/scale') is answered 403 Forbidden. */
  forbid(verb: Verb, resource: string): void;
  /** A simulated concurrent writer bumps the object's resourceVersion just before each of its next `count` writes. */
  raceNextWrites(ns: string, resource: 'deployments' | 'horizontalpodautoscalers' | 'leases' | 'clusters', name: string, count: number): void;
  requests(): FakeRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /**
   * Stores any object of a generic resource (Pods with their status.containerStatuses, Services, ConfigMaps, Secrets, PVCs, Ingresses,
   * CloudNativePG Clusters) as given, with new metadata (uid, resourceVersion) and the watch
   * event a real API server would send. Returns the stored object.
   */
  put(resource: GenericResource, ns: string, name: string, object: Obj): Obj;
  /** Changes a stored object (a status update by a controller, or an edit by a person): fn edits a copy, which is stored. */
  edit(resource: GenericResource, ns: string, name: string, fn: (o: Obj) => void): Obj;
  /** Deletes a stored generic object (a DELETED watch event). */
  remove(resource: GenericResource, ns: string, name: string): void;
  get(resource: GenericResource, ns: string, name: string): Obj | undefined;
  /** Closes every open watch stream (the API server restarted, a proxy in between timed out). */
  breakWatches(): void;
  /** Open watch streams. */
  watches(): number;
  /** The next `count` requests whose method and path match answer `status` with a Status object (or hang until close with 'hang'). */
  failNext(method: string, pathPrefix: string, status: number | 'hang', count?: number): void;
  /** Sets the Deployment's container image (spec.template), as a rollout of a new version would. */
  setImage(ns: string, name: string, image: string): void;
  /**
   * A CloudNativePG Cluster of a replica-cluster pair (distributed topology, 1.24+): `self` is its
   * own name, `primary` the name of the pair's primary, `source` the externalCluster it replicates
   * from. A simulated operator moves its status (see test/support/README.md).
   */
  setCnpgCluster(ns: string, name: string, setup: CnpgSetup): void;
  /** How many times the simulated operator promoted this Cluster. */
  cnpgPromotions(ns: string, name: string): number;
  /** The WAL position the simulated Cluster has written (primary) or replayed (replica). */
  setCnpgLsn(ns: string, name: string, lsn: number): void;
  close(): Promise<void>;
}

const USER = 'system:serviceaccount:switchyard:switchyard';
const MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const MAX_BODY = 1 << 20;

export type GenericResource = 'pods' | 'services' | 'configmaps' | 'secrets' | 'persistentvolumeclaims' | 'ingresses' | 'clusters';
export type Obj = { [key: string]: Json };

interface ResourceDef { group: string; version: string; plural: string; kind: string; item: Verb[]; collection: Verb[]; scale: Verb[]; generic?: boolean }
const GENERIC_VERBS = { item: ['get', 'update', 'patch'] as Verb[], collection: ['list', 'watch'] as Verb[], scale: [] as Verb[], generic: true };
const RESOURCES: ResourceDef[] = [
  { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', item: ['get'], collection: ['list'], scale: ['get', 'update', 'patch'] },
  { group: 'autoscaling', version: 'v2', plural: 'horizontalpodautoscalers', kind: 'HorizontalPodAutoscaler', item: ['get', 'update', 'patch'], collection: ['list'], scale: [] },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', ...GENERIC_VERBS },
  { group: '', version: 'v1', plural: 'services', kind: 'Service', ...GENERIC_VERBS },
  { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', ...GENERIC_VERBS },
  { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', ...GENERIC_VERBS },
  { group: '', version: 'v1', plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', ...GENERIC_VERBS },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', ...GENERIC_VERBS },
  { group: 'postgresql.cnpg.io', version: 'v1', plural: 'clusters', kind: 'Cluster', ...GENERIC_VERBS },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', item: [], collection: ['list'], scale: [] },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', item: ['get', 'update'], collection: ['create'], scale: [] },
];

class HttpStatus extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: Obj | undefined;
  constructor(code: number, reason: string, message: string, details?: Obj) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }
}

function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  const body: Obj = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) body.details = details;
  return body;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isObj(v: Json | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function meta(o: Obj): Obj {
  return isObj(o.metadata) ? o.metadata : {};
}

/** Omits zero counters, as the API server does for `omitempty` status fields. */
function counters(fields: Record<string, number>): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(fields)) if (v !== 0) out[k] = v;
  return out;
}

function parseSelector(selector: string | null): (labels: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const tests = terms.map((t) => {
    const m = /^(!?)([A-Za-z0-9._/-]+)(?:\s*(!=|==|=)\s*([A-Za-z0-9._-]*))?$/.exec(t);
    if (!m) throw new HttpStatus(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(t)}: the fake supports equality and existence selectors only`);
    const [, not, key, op, value] = m;
    if (op === undefined) return (l: Obj) => (key in l) !== (not === '!');
    if (not === '!') throw new HttpStatus(400, 'BadRequest', `unable to parse requirement: ${JSON.stringify(t)}`);
    return op === '!=' ? (l: Obj) => l[key] !== value : (l: Obj) => l[key] === value;
  });
  return (labels) => tests.every((test) => test(labels));
}


export async function startFakeKubeApi(options: FakeKubeApiOptions = {}): Promise<FakeKubeApi> {
  const controllerDelay = options.controllerDelayMs ?? 50;
  const perSlice = options.endpointsPerSlice ?? 100;
  const store = new Map<string, Obj>();
  const maxAvailable = new Map<string, number>();
  const namespaces = new Set(['default', 'kube-system']);
  const forbidden = new Set<string>();
  const races = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  const hung = new Set<ServerResponse>();
  const log: FakeRequest[] = [];
  let revision = 1000;
  let ready: ReadyState = true;
  let accepted = 0;
  let kubeconfigs = 0;
  let closed = false;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-api-'));

  const key = (plural: string, ns: string, name: string) => `${plural}/${ns}/${name}`;
  const read = (k: string): Obj | undefined => {
    const o = store.get(k);
    return o && structuredClone(o);
  };

  /** Stores the object with a new resourceVersion, unless it is unchanged (as the real storage layer does). */
  function commit(k: string, o: Obj): Obj {
    const prev = store.get(k);
    if (prev && JSON.stringify(prev) === JSON.stringify(o)) return structuredClone(prev);
    meta(o).resourceVersion = String(++revision);
    store.set(k, structuredClone(o));
    emit(k, prev ? 'MODIFIED' : 'ADDED', o);
    onWrite(k);
    return o;
  }

  // --- watches: every change is an event in one history (like etcd's), streamed to the open watches ---
  interface WatchEvent { plural: string; ns: string; type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: Obj; rv: number }
  interface Watcher { plural: string; ns: string; res: ServerResponse }
  const history: WatchEvent[] = [];
  const watchers = new Set<Watcher>();
  const writeEvent = (w: Watcher, e: WatchEvent) => { w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`); };
  function emit(k: string, type: WatchEvent['type'], o: Obj): void {
    const [plural, ns] = k.split('/');
    const e: WatchEvent = { plural, ns, type, object: structuredClone(o), rv: revision };
    history.push(e);
    for (const w of watchers) if (w.plural === plural && w.ns === ns) writeEvent(w, e);
  }
  function removeObject(k: string): void {
    const o = store.get(k);
    if (!o) return;
    store.delete(k);
    meta(o).resourceVersion = String(++revision);
    emit(k, 'DELETED', o);
  }

  // --- simulated controllers of generic resources, keyed by plural (CloudNativePG's is added below) ---
  const writeHooks = new Map<string, (k: string) => void>();
  function onWrite(k: string): void {
    writeHooks.get(k.slice(0, k.indexOf('/')))?.(k);
  }

  // --- a simulated CloudNativePG operator (replica clusters, distributed topology) ---
  // Demotion: spec.replica.primary set to another Cluster on a primary → after the delay it is a
  // replica and status.demotionToken holds {systemID, timelineID, lsn}. Promotion: spec.replica.primary
  // set to itself on a replica → with a promotionToken it waits for the token's LSN to be replayed
  // (the token must carry its own systemID, else phase says why and nothing happens); without one
  // it promotes at once (failover with the source lost). A promotion starts a new timeline.
  const cnpgLsn = new Map<string, number>();
  const cnpgPromoted = new Map<string, number>();
  const cnpgRole = new Map<string, 'primary' | 'replica'>();
  const tokenOf = (o: Obj): string => Buffer.from(JSON.stringify({ systemID: (o.status as Obj).systemID, timelineID: (o.status as Obj).timelineID, lsn: cnpgLsn.get(key('clusters', meta(o).namespace as string, meta(o).name as string)) ?? 0 })).toString('base64');
  function cnpgReconcile(k: string): void {
    later(`cnpg:${k}`, () => {
      const o = read(k);
      if (!o) return;
      const replica = ((o.spec as Obj).replica ?? {}) as Obj;
      const status = (o.status ?? {}) as Obj;
      const self = replica.self as string;
      const role = cnpgRole.get(k) ?? 'replica';
      if (role === 'primary' && replica.primary !== self) {
        cnpgRole.set(k, 'replica');
        o.status = { ...status, phase: 'Cluster in healthy state', demotionToken: tokenOf(o) };
        commit(k, o);
        return;
      }
      if (role === 'replica' && replica.primary === self) {
        const token = typeof replica.promotionToken === 'string' ? replica.promotionToken : undefined;
        if (token !== undefined) {
          let t: Obj;
          try { t = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as Obj; } catch { t = {}; }
          if (t.systemID !== status.systemID) {
            o.status = { ...status, phase: 'Cannot promote: the promotion token is for another system' };
            commit(k, o);
            return;
          }
          if ((cnpgLsn.get(k) ?? 0) < (t.lsn as number)) {
            o.status = { ...status, phase: 'Waiting for the promotion token LSN to be replayed' };
            commit(k, o);
            cnpgReconcile(k);
            return;
          }
        }
        cnpgRole.set(k, 'primary');
        cnpgPromoted.set(k, (cnpgPromoted.get(k) ?? 0) + 1);
        const next: Obj = { ...status, phase: 'Cluster in healthy state', timelineID: (status.timelineID as number) + 1, currentPrimary: `${meta(o).name as string}-1` };
        delete next.demotionToken;
        o.status = next;
        commit(k, o);
      }
    });
  }
  writeHooks.set('clusters', cnpgReconcile);

  // --- injected failures ---
  const failures: Array<{ method: string; prefix: string; status: number | 'hang'; count: number }> = [];
  function injected(method: string, path: string): number | 'hang' | undefined {
    const f = failures.find((x) => x.count > 0 && x.method === method && path.startsWith(x.prefix));
    if (!f) return undefined;
    f.count--;
    return f.status;
  }

  function later(timerKey: string, fn: () => void): void {
    if (closed) return;
    clearTimeout(timers.get(timerKey));
    timers.set(timerKey, setTimeout(() => {
      timers.delete(timerKey);
      fn();
    }, controllerDelay));
  }

  function newMeta(ns: string, name: string, labels?: Obj): Obj {
    namespaces.add(ns);
    const m: Obj = { name, namespace: ns, uid: randomUUID(), resourceVersion: '', generation: 1, creationTimestamp: now() };
    if (labels) m.labels = labels;
    return m;
  }

  // --- simulated controllers ---

  function deploymentStatus(k: string, d: Obj, available: number): Obj {
    const spec = d.spec as Obj;
    const replicas = spec.replicas as number;
    const avail = Math.min(available, replicas, maxAvailable.get(k) ?? Infinity);
    return {
      observedGeneration: meta(d).generation as number,
      ...counters({ replicas, updatedReplicas: replicas, readyReplicas: avail, availableReplicas: avail, unavailableReplicas: replicas - avail }),
    };
  }

  function rollOut(k: string): void {
    later(`rollout:${k}`, () => {
      const d = read(k);
      if (!d) return;
      d.status = deploymentStatus(k, d, (d.spec as Obj).replicas as number);
      commit(k, d);
    });
  }

  function setReplicas(k: string, d: Obj, replicas: number): Obj {
    const spec = d.spec as Obj;
    if (spec.replicas === replicas) return d;
    spec.replicas = replicas;
    meta(d).generation = (meta(d).generation as number) + 1;
    const out = commit(k, d);
    rollOut(k);
    return out;
  }

  function reconcileHpa(k: string): void {
    later(`hpa:${k}`, () => {
      const h = read(k);
      if (!h) return;
      const spec = h.spec as Obj;
      const ns = meta(h).namespace as string;
      const dk = key('deployments', ns, (spec.scaleTargetRef as Obj).name as string);
      const d = read(dk);
      if (!d) return;
      const current = (d.spec as Obj).replicas as number;
      const desired = Math.min(Math.max(current, spec.minReplicas as number), spec.maxReplicas as number);
      setReplicas(dk, d, desired);
      h.status = { ...counters({ currentReplicas: ((d.status as Obj).replicas as number | undefined) ?? 0 }), desiredReplicas: desired };
      commit(k, h);
    });
  }

  // --- helpers for handlers ---

  const qualified = (r: ResourceDef) => (r.group === '' ? r.plural : `${r.plural}.${r.group}`);

  function notFound(r: ResourceDef, name: string): HttpStatus {
    return new HttpStatus(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.plural });
  }

  function conflict(r: ResourceDef, name: string): HttpStatus {
    return new HttpStatus(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: r.group, kind: r.plural });
  }

  function invalid(kind: string, r: ResourceDef, name: string, field: string, value: Json, why: string): HttpStatus {
    return new HttpStatus(422, 'Invalid', `${kind}.${r.group} "${name}" is invalid: ${field}: Invalid value: ${JSON.stringify(value)}: ${why}`, {
      name, group: r.group, kind, causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field }],
    });
  }

  function race(k: string): void {
    const n = races.get(k) ?? 0;
    if (n <= 0) return;
    races.set(k, n - 1);
    const o = store.get(k);
    if (o) meta(o).resourceVersion = String(++revision);
  }

  /** The resourceVersion precondition of an update or patch: a stale one is a 409 Conflict. */
  function checkVersion(r: ResourceDef, name: string, current: Obj, wanted: Obj, unconditional: boolean): void {
    const rv = meta(wanted).resourceVersion;
    if (rv === undefined || rv === null || rv === '') {
      if (!unconditional) throw invalid(r.kind, r, name, 'metadata.resourceVersion', 0, 'must be specified for an update');
      return;
    }
    if (rv !== meta(current).resourceVersion) throw conflict(r, name);
  }

  function checkName(name: string, body: Obj): void {
    const bodyName = meta(body).name;
    if (bodyName !== undefined && bodyName !== name) {
      throw new HttpStatus(400, 'BadRequest', `the name of the object (${String(bodyName)}) does not match the name on the URL (${name})`);
    }
  }

  function validReplicas(r: ResourceDef, kind: string, name: string, field: string, v: Json | undefined, min: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw invalid(kind, r, name, field, v ?? null, `must be greater than or equal to ${min}`);
    }
    return v;
  }

  function scaleOf(d: Obj): Obj {
    const m = meta(d);
    return {
      kind: 'Scale', apiVersion: 'autoscaling/v1',
      metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
      spec: { replicas: (d.spec as Obj).replicas },
      status: { replicas: ((d.status as Obj).replicas as number | undefined) ?? 0, selector: `app=${String(m.name)}` },
    };
  }

  function validateLease(name: string, l: Obj, r: ResourceDef): void {
    const spec = isObj(l.spec) ? l.spec : {};
    for (const field of ['acquireTime', 'renewTime']) {
      const v = spec[field];
      if (v !== undefined && v !== null && (typeof v !== 'string' || !MICROTIME.test(v))) {
        throw new HttpStatus(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00": spec.${field} must be a MicroTime with six fractional digits`);
      }
    }
    const d = spec.leaseDurationSeconds;
    if (d !== undefined && d !== null && (typeof d !== 'number' || !Number.isInteger(d) || d <= 0)) {
      throw invalid('Lease', r, name, 'spec.leaseDurationSeconds', d, 'must be greater than 0');
    }
  }

  // --- handlers ---

  function handleDeployment(r: ResourceDef, verb: Verb, ns: string, name: string, sub: string | undefined, contentType: string | undefined, body: Json | undefined, dryRun: boolean): [number, Obj] {
    const k = key('deployments', ns, name);
    if (verb === 'get') {
      const d = read(k);
      if (!d) throw notFound(r, name);
      return [200, sub === 'scale' ? scaleOf(d) : d];
    }
    if (!dryRun) race(k);
    const d = read(k);
    if (!d) throw notFound(r, name);
    const current = scaleOf(d);
    let wanted: Obj;
    if (verb === 'update') {
      if (!isObj(body)) throw new HttpStatus(400, 'BadRequest', 'the body must be a Scale object');
      wanted = body;
      checkName(name, wanted);
      checkVersion(r, name, current, wanted, true);
    } else {
      const patched = applyPatch(contentType, current, body ?? null);
      if (!isObj(patched)) throw new HttpStatus(422, 'Invalid', 'the patched object is not an object');
      wanted = patched;
      checkName(name, wanted);
      if (meta(wanted).resourceVersion !== meta(current).resourceVersion) checkVersion(r, name, current, wanted, true);
    }
    const replicas = validReplicas(r, 'Scale', name, 'spec.replicas', isObj(wanted.spec) ? wanted.spec.replicas : undefined, 0);
    if (dryRun) return [200, { ...current, spec: { replicas } }];
    return [200, scaleOf(setReplicas(k, d, replicas))];
  }

  function handleHpa(r: ResourceDef, verb: Verb, ns: string, name: string, contentType: string | undefined, body: Json | undefined, dryRun: boolean): [number, Obj] {
    const k = key('horizontalpodautoscalers', ns, name);
    if (verb === 'get') {
      const h = read(k);
      if (!h) throw notFound(r, name);
      return [200, h];
    }
    if (!dryRun) race(k);
    const h = read(k);
    if (!h) throw notFound(r, name);
    let wanted: Obj;
    if (verb === 'update') {
      if (!isObj(body)) throw new HttpStatus(400, 'BadRequest', 'the body must be a HorizontalPodAutoscaler object');
      wanted = body;
      checkName(name, wanted);
      checkVersion(r, name, h, wanted, true);
    } else {
      const patched = applyPatch(contentType, h, body ?? null);
      if (!isObj(patched)) throw new HttpStatus(422, 'Invalid', 'the patched object is not an object');
      wanted = patched;
      checkName(name, wanted);
      if (meta(wanted).resourceVersion !== meta(h).resourceVersion) checkVersion(r, name, h, wanted, true);
    }
    const spec = isObj(wanted.spec) ? wanted.spec : {};
    const min = validReplicas(r, 'HorizontalPodAutoscaler', name, 'spec.minReplicas', spec.minReplicas, 1);
    const max = validReplicas(r, 'HorizontalPodAutoscaler', name, 'spec.maxReplicas', spec.maxReplicas, 1);
    if (max < min) throw invalid('HorizontalPodAutoscaler', r, name, 'spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`');
    const hs = h.spec as Obj;
    if (hs.minReplicas !== min || hs.maxReplicas !== max) {
      h.spec = { ...hs, minReplicas: min, maxReplicas: max };
      meta(h).generation = (meta(h).generation as number) + 1;
    }
    if (dryRun) return [200, h];
    const out = commit(k, h);
    reconcileHpa(k);
    return [200, out];
  }

  function handleEndpointSlices(ns: string, selector: string | null): [number, Obj] {
    const matches = parseSelector(selector);
    const items = [...store.entries()]
      .filter(([k, o]) => k.startsWith(`endpointslices/${ns}/`) && matches(isObj(meta(o).labels) ? meta(o).labels as Obj : {}))
      .map(([, o]) => {
        const item = structuredClone(o);
        delete item.kind;
        delete item.apiVersion;
        return item;
      });
    return [200, { kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: String(revision) }, items }];
  }

  function handleLease(r: ResourceDef, verb: Verb, ns: string, name: string | undefined, body: Json | undefined): [number, Obj] {
    if (verb === 'create') {
      if (!isObj(body)) throw new HttpStatus(400, 'BadRequest', 'the body must be a Lease object');
      const n = meta(body).name;
      if (typeof n !== 'string' || n === '') throw invalid('Lease', r, '', 'metadata.name', '', 'name or generateName is required');
      if (!namespaces.has(ns)) throw new HttpStatus(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
      const rv = meta(body).resourceVersion;
      if (rv !== undefined && rv !== null && rv !== '') throw new HttpStatus(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created');
      validateLease(n, body, r);
      const k = key('leases', ns, n);
      if (store.has(k)) {
        throw new HttpStatus(409, 'AlreadyExists', `${qualified(r)} "${n}" already exists`, { name: n, group: r.group, kind: r.plural });
      }
      const lease: Obj = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { ...meta(body), ...newMeta(ns, n) }, spec: isObj(body.spec) ? body.spec : {} };
      delete meta(lease).generation;
      return [201, commit(k, lease)];
    }
    const k = key('leases', ns, name!);
    if (verb === 'get') {
      const l = read(k);
      if (!l) throw notFound(r, name!);
      return [200, l];
    }
    race(k);
    if (!isObj(body)) throw new HttpStatus(400, 'BadRequest', 'the body must be a Lease object');
    checkName(name!, body);
    const current = read(k);
    if (!current) throw notFound(r, name!);
    checkVersion(r, name!, current, body, false);
    validateLease(name!, body, r);
    const m = meta(current);
    const next: Obj = {
      apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
      metadata: { ...meta(body), name: m.name, namespace: m.namespace, uid: m.uid, creationTimestamp: m.creationTimestamp, resourceVersion: m.resourceVersion },
      spec: isObj(body.spec) ? body.spec : {},
    };
    return [200, commit(k, next)];
  }

  function listOf(r: ResourceDef, ns: string, selector: string | null): Obj {
    const matches = parseSelector(selector);
    const items = [...store.entries()]
      .filter(([k, o]) => k.startsWith(`${r.plural}/${ns}/`) && matches(isObj(meta(o).labels) ? meta(o).labels as Obj : {}))
      .map(([, o]) => structuredClone(o));
    return { kind: `${r.kind}List`, apiVersion: r.group === '' ? r.version : `${r.group}/${r.version}`, metadata: { resourceVersion: String(revision) }, items };
  }

  /** A watch: the events after `resourceVersion` (410 Gone when none is given or it is in the future), then every new one, until the client or breakWatches() ends it. */
  function startWatch(r: ResourceDef, ns: string, from: string | null, res: ServerResponse): void {
    const rv = from === null || from === '' ? NaN : Number(from);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { plural: r.plural, ns, res };
    if (!Number.isInteger(rv) || rv > revision) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', `too old resource version: ${from ?? ''}`) })}\n`);
      return;
    }
    for (const e of history) if (e.rv > rv && e.plural === r.plural && e.ns === ns) writeEvent(w, e);
    watchers.add(w);
    res.on('close', () => watchers.delete(w));
  }

  function handleGeneric(r: ResourceDef, verb: Verb, ns: string, name: string, contentType: string | undefined, body: Json | undefined): [number, Obj] {
    const k = key(r.plural, ns, name);
    if (verb === 'get') {
      const o = read(k);
      if (!o) throw notFound(r, name);
      return [200, o];
    }
    race(k);
    const current = read(k);
    if (!current) throw notFound(r, name);
    let wanted: Obj;
    if (verb === 'update') {
      if (!isObj(body)) throw new HttpStatus(400, 'BadRequest', `the body must be a ${r.kind} object`);
      wanted = body;
      checkName(name, wanted);
      checkVersion(r, name, current, wanted, false);
    } else {
      const patched = applyPatch(contentType, current, body ?? null);
      if (!isObj(patched)) throw new HttpStatus(422, 'Invalid', 'the patched object is not an object');
      wanted = patched;
      checkName(name, wanted);
      if (meta(wanted).resourceVersion !== meta(current).resourceVersion) checkVersion(r, name, current, wanted, true);
    }
    const m = meta(current);
    // The main resource keeps its status: only a controller (edit()) changes it, as with a status subresource.
    const next: Obj = { ...wanted, metadata: { ...meta(wanted), name: m.name, namespace: m.namespace, uid: m.uid, creationTimestamp: m.creationTimestamp, resourceVersion: m.resourceVersion } };
    if (current.status !== undefined) next.status = current.status;
    else delete next.status;
    if (JSON.stringify(next.spec) !== JSON.stringify(current.spec) && typeof m.generation === 'number') meta(next).generation = m.generation + 1;
    return [200, commit(k, next)];
  }

  // --- HTTP plumbing ---

  function send(res: ServerResponse, code: number, body: Obj): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<Json | undefined> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) throw new HttpStatus(413, 'RequestEntityTooLarge', 'the request body is too large');
      chunks.push(chunk);
    }
    if (size === 0) return undefined;
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
    } catch (err) {
      throw new HttpStatus(400, 'BadRequest', `the body is not valid JSON: ${(err as Error).message}`);
    }
  }

  function forbiddenError(r: ResourceDef, verb: Verb, resource: string, ns: string, name: string | undefined, user: string): HttpStatus {
    const subject = name === undefined ? qualified(r) : `${qualified(r)} "${name}"`;
    return new HttpStatus(403, 'Forbidden', `${subject} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${r.group}" in the namespace "${ns}"`, {
      ...(name === undefined ? {} : { name }), group: r.group, kind: resource,
    });
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = req.headers.authorization;
    const anonymous = options.token !== undefined && auth === undefined;
    if (options.token !== undefined && auth !== undefined && auth !== `Bearer ${options.token}`) {
      throw new HttpStatus(401, 'Unauthorized', 'Unauthorized');
    }
    const path = url.pathname;
    if (path === '/readyz' || path === '/livez' || path === '/healthz') {
      if (req.method !== 'GET') throw new HttpStatus(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
      const ok = ready === true || path === '/healthz';
      const text = ok ? 'ok' : `[+]ping ok\n[-]etcd failed: reason withheld\n${path.slice(1)} check failed`;
      res.writeHead(ok ? 200 : 500, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      res.end(text);
      return;
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(path);
    const group = m ? (m[2] ?? '') : '';
    const version = m ? (m[1] ?? m[3]) : '';
    const r = m && RESOURCES.find((d) => d.group === group && d.version === version && d.plural === m[5]);
    if (!m || !r || (m[7] !== undefined && m[7] !== 'scale')) {
      throw new HttpStatus(404, 'NotFound', 'the server could not find the requested resource', {});
    }
    const ns = decodeURIComponent(m[4]);
    const name = m[6] === undefined ? undefined : decodeURIComponent(m[6]);
    const sub = m[7];
    const watching = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb: Verb | undefined = name === undefined
      ? (req.method === 'GET' ? (watching ? 'watch' : 'list') : req.method === 'POST' ? 'create' : undefined)
      : (req.method === 'GET' ? 'get' : req.method === 'PUT' ? 'update' : req.method === 'PATCH' ? 'patch' : undefined);
    const allowed = name === undefined ? r.collection : sub === 'scale' ? r.scale : r.item;
    if (!verb || !allowed.includes(verb)) {
      throw new HttpStatus(405, 'MethodNotAllowed', `the fake API server does not implement ${req.method} on this resource`);
    }
    const resource = sub ? `${r.plural}/${sub}` : r.plural;
    if (anonymous) throw forbiddenError(r, verb, resource, ns, name, 'system:anonymous');
    if (forbidden.has(`${verb} ${resource}`)) throw forbiddenError(r, verb, resource, ns, name, USER);
    const dryRunParam = url.searchParams.get('dryRun');
    if (dryRunParam !== null && dryRunParam !== 'All') throw new HttpStatus(400, 'BadRequest', `Invalid dry run value: ${dryRunParam}; only All is supported`);
    const dryRun = dryRunParam === 'All';
    if (dryRun && r.plural !== 'deployments' && r.plural !== 'horizontalpodautoscalers') {
      throw new HttpStatus(400, 'BadRequest', 'the fake API server implements dryRun=All for the deployment scale subresource and HPAs only');
    }
    const body = req.method === 'GET' ? undefined : await readBody(req);
    const contentType = req.headers['content-type'];
    if (verb === 'watch') {
      startWatch(r, ns, url.searchParams.get('resourceVersion'), res);
      return;
    }
    let result: [number, Obj];
    if (verb === 'list' && r.plural !== 'endpointslices') {
      send(res, 200, listOf(r, ns, url.searchParams.get('labelSelector')));
      return;
    }
    if (r.generic) {
      send(res, ...handleGeneric(r, verb, ns, name!, contentType, body));
      return;
    }
    switch (r.plural) {
      case 'deployments':
        result = handleDeployment(r, verb, ns, name!, sub, contentType, body, dryRun);
        break;
      case 'horizontalpodautoscalers':
        result = handleHpa(r, verb, ns, name!, contentType, body, dryRun);
        break;
      case 'endpointslices':
        result = handleEndpointSlices(ns, url.searchParams.get('labelSelector'));
        break;
      default:
        result = handleLease(r, verb, ns, name, body);
    }
    send(res, result[0], result[1]);
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const ct = req.headers['content-type'];
    log.push({ method: req.method ?? '', path: url.pathname + url.search, contentType: typeof ct === 'string' ? ct : undefined });
    if (ready === 'close') {
      req.socket.destroy();
      return;
    }
    const failure = injected(req.method ?? '', url.pathname);
    if (ready === 'hang' || failure === 'hang') {
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return;
    }
    if (failure !== undefined) {
      const reason = failure === 401 ? 'Unauthorized' : failure === 403 ? 'Forbidden' : failure === 404 ? 'NotFound' : failure === 409 ? 'Conflict' : failure === 410 ? 'Expired' : 'InternalError';
      send(res, failure, statusBody(failure, reason, `injected failure: ${reason}`));
      return;
    }
    route(req, res, url).catch((err: unknown) => {
      if (err instanceof HttpStatus) send(res, err.code, statusBody(err.code, err.reason, err.message, err.details));
      else if (err instanceof PatchError) send(res, err.status, statusBody(err.status, err.status === 415 ? 'UnsupportedMediaType' : err.status === 422 ? 'Invalid' : 'BadRequest', err.message));
      else send(res, 500, statusBody(500, 'InternalError', `Internal error occurred: ${String(err)}`));
    });
  });
  server.on('connection', () => { accepted++; });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const closedPort = await freePort();

  return {
    url,
    kubeconfigPath(context, opts = {}) {
      const ctx = context ?? 'fake';
      const token = opts.token ?? options.token ?? 'fake-token';
      const config = {
        apiVersion: 'v1', kind: 'Config', preferences: {},
        clusters: [
          { name: 'fake-cluster', cluster: { server: url, 'insecure-skip-tls-verify': true } },
          { name: 'closed-port', cluster: { server: `http://127.0.0.1:${closedPort}`, 'insecure-skip-tls-verify': true } },
        ],
        users: [{ name: 'fake-user', user: { token } }],
        contexts: [
          { name: ctx, context: { cluster: 'fake-cluster', user: 'fake-user', namespace: 'default' } },
          { name: `not-${ctx}`, context: { cluster: 'closed-port', user: 'fake-user' } },
        ],
        'current-context': context === undefined ? ctx : `not-${ctx}`,
      };
      const file = join(dir, `kubeconfig-${++kubeconfigs}.yaml`);
      writeFileSync(file, JSON.stringify(config, null, 2));
      return file;
    },
    addNamespace(ns) {
      namespaces.add(ns);
    },
    setDeployment(ns, name, setup) {
      const k = key('deployments', ns, name);
      clearTimeout(timers.get(`rollout:${k}`));
      timers.delete(`rollout:${k}`);
      if (setup.maxAvailable === undefined) maxAvailable.delete(k);
      else maxAvailable.set(k, setup.maxAvailable);
      const prev = read(k);
      const labels = { app: name };
      const d: Obj = prev ?? {
        apiVersion: 'apps/v1', kind: 'Deployment', metadata: newMeta(ns, name, labels),
        spec: {
          replicas: setup.replicas, selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: setup.podSpec ?? { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
        },
        status: {},
      };
      if (prev && (prev.spec as Obj).replicas !== setup.replicas) {
        (d.spec as Obj).replicas = setup.replicas;
        meta(d).generation = (meta(d).generation as number) + 1;
      }
      d.status = deploymentStatus(k, d, setup.availableReplicas ?? setup.replicas);
      commit(k, d);
    },
    deployment(ns, name) {
      return read(key('deployments', ns, name)) as unknown as FakeDeployment | undefined;
    },
    setHpa(ns, name, setup) {
      const k = key('horizontalpodautoscalers', ns, name);
      const prev = read(k);
      const h: Obj = prev ?? {
        apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: newMeta(ns, name),
        spec: {}, status: { desiredReplicas: setup.minReplicas },
      };
      h.spec = {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: setup.target ?? name },
        minReplicas: setup.minReplicas, maxReplicas: setup.maxReplicas,
        metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
      };
      commit(k, h);
    },
    hpa(ns, name) {
      return read(key('horizontalpodautoscalers', ns, name)) as unknown as FakeHpa | undefined;
    },
    setEndpoints(ns, service, readyCount, notReadyCount) {
      for (const k of [...store.keys()]) {
        const o = store.get(k)!;
        if (k.startsWith(`endpointslices/${ns}/`) && (meta(o).labels as Obj)['kubernetes.io/service-name'] === service) store.delete(k);
      }
      const endpoints: Obj[] = [];
      for (let i = 0; i < readyCount + notReadyCount; i++) {
        const ok = i < readyCount;
        endpoints.push({
          addresses: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
          conditions: { ready: ok, serving: ok, terminating: false },
          targetRef: { kind: 'Pod', namespace: ns, name: `${service}-${i}`, uid: randomUUID() },
        });
      }
      for (let s = 0; s === 0 || s * perSlice < endpoints.length; s++) {
        const name = `${service}-${randomUUID().slice(0, 5)}`;
        commit(key('endpointslices', ns, name), {
          apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
          metadata: newMeta(ns, name, { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }),
          addressType: 'IPv4',
          endpoints: endpoints.slice(s * perSlice, (s + 1) * perSlice),
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        });
      }
    },
    lease(ns, name) {
      return read(key('leases', ns, name)) as unknown as FakeLease | undefined;
    },
    setReady(state) {
      ready = state;
    },
    forbid(verb, resource) {
      forbidden.add(`${verb} ${resource}`);
    },
    raceNextWrites(ns, resource, name, count) {
      races.set(key(resource, ns, name), count);
    },
    requests() {
      return log.map((r) => ({ ...r }));
    },
    connections() {
      return accepted;
    },
    put(resource, ns, name, object) {
      const r = RESOURCES.find((d) => d.plural === resource)!;
      const k = key(resource, ns, name);
      const prev = store.get(k);
      const o: Obj = { apiVersion: r.group === '' ? r.version : `${r.group}/${r.version}`, kind: r.kind, ...structuredClone(object) };
      o.metadata = { ...meta(o), ...(prev ? { ...meta(prev), generation: ((meta(prev).generation as number | undefined) ?? 1) + 1 } : newMeta(ns, name, isObj(meta(o).labels) ? meta(o).labels as Obj : undefined)) };
      return structuredClone(commit(k, o));
    },
    edit(resource, ns, name, fn) {
      const k = key(resource, ns, name);
      const o = read(k);
      if (!o) throw new Error(`fake: no ${resource} ${ns}/${name}`);
      fn(o);
      return structuredClone(commit(k, o));
    },
    remove(resource, ns, name) {
      removeObject(key(resource, ns, name));
    },
    get(resource, ns, name) {
      return read(key(resource, ns, name));
    },
    breakWatches() {
      for (const w of watchers) w.res.destroy();
      watchers.clear();
    },
    watches() {
      return watchers.size;
    },
    failNext(method, pathPrefix, status, count = 1) {
      failures.push({ method, prefix: pathPrefix, status, count });
    },
    setCnpgCluster(ns, name, setup) {
      const k = key('clusters', ns, name);
      cnpgRole.set(k, setup.primary === name ? 'primary' : 'replica');
      cnpgLsn.set(k, setup.lsn ?? 0);
      const prev = store.get(k);
      const o: Obj = {
        apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: prev ? meta(structuredClone(prev)) : newMeta(ns, name),
        spec: {
          instances: setup.instances ?? 3,
          externalClusters: [{ name: setup.source, connectionParameters: { host: `${setup.source}-rw.${ns}.svc`, dbname: 'postgres' } }],
          replica: { self: name, primary: setup.primary, source: setup.source },
        },
        status: { phase: 'Cluster in healthy state', systemID: setup.systemID, timelineID: setup.timelineID ?? 1, currentPrimary: `${name}-1`, instances: setup.instances ?? 3, readyInstances: setup.instances ?? 3 },
      };
      commit(k, o);
    },
    cnpgPromotions(ns, name) {
      return cnpgPromoted.get(key('clusters', ns, name)) ?? 0;
    },
    setCnpgLsn(ns, name, lsn) {
      const k = key('clusters', ns, name);
      cnpgLsn.set(k, lsn);
      if (store.has(k)) cnpgReconcile(k);
    },
    setImage(ns, name, image) {
      const k = key('deployments', ns, name);
      const d = read(k);
      if (!d) throw new Error(`fake: no deployment ${ns}/${name}`);
      const pod = ((d.spec as Obj).template as Obj).spec as Obj;
      (pod.containers as Obj[])[0].image = image;
      meta(d).generation = (meta(d).generation as number) + 1;
      commit(k, d);
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      for (const res of hung) res.destroy();
      for (const w of watchers) w.res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
