// The one place that builds @kubernetes/client-node clients, and the only module that imports
// values from it. client-node costs about 85 MiB of memory once loaded, so other modules import
// only types from here and reach everything they need (per-call options, error mapping) through
// the KubernetesClients they are given; the composition root imports this module dynamically,
// and only when a cluster has kubernetes settings.
//
// One KubeConfig per (kubeconfig, context): the context is selected before any client is made
// from it (clients capture the current cluster when they are made), and a cache passed in by the
// composition root gives each cluster one set of clients. Errors of any Kubernetes call become
// SwitchyardErrors through error(); callers match on the SWY_KUBE_* codes.
import {
  ApiException, AppsV1Api, AutoscalingV2Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, HttpMethod, KubeConfig,
  NetworkingV1Api, Observable, PatchStrategy, RequestContext, ServerConfiguration, createConfiguration, makeInformer, setHeaderMiddleware, setHeaderOptions,
  type ConfigurationOptions, type Informer, type KubernetesListObject, type KubernetesObject, type ObjectCache, type ObservableMiddleware,
} from '@kubernetes/client-node';
import { fetch, type Dispatcher } from 'undici';
import { SwitchyardError, describeError, type ErrorCode } from './errors.ts';
import type { ClusterConfig, KubernetesAccess } from './config/index.ts';

export interface KubernetesClients {
  /** The API server URL of the selected context, for messages. */
  readonly server: string;
  readonly apps: AppsV1Api;
  readonly autoscaling: AutoscalingV2Api;
  readonly discovery: DiscoveryV1Api;
  readonly coordination: CoordinationV1Api;
  readonly core: CoreV1Api;
  readonly networking: NetworkingV1Api;
  /** Custom resources, such as CloudNativePG's postgresql.cnpg.io/v1 Clusters. */
  readonly custom: CustomObjectsApi;
  readonly kubeConfig: KubeConfig;
  /**
   * A list-then-watch cache of the objects under `path` (e.g. /api/v1/namespaces/app/services),
   * not yet started. client-node's informer stops for good after any error but 410 Gone: its
   * owner must restart it from the error handler (see src/addresses).
   */
  informer<T extends KubernetesObject>(path: string, list: () => Promise<KubernetesListObject<T>>): Informer<T> & ObjectCache<T>;
  /** Per-call options: the abort signal (a timeout or shutdown) goes to the request. */
  requestOptions(signal: AbortSignal | undefined): ConfigurationOptions;
  /** requestOptions for a PATCH whose body is a merge patch (client-node defaults PATCH to JSON patch). */
  mergePatchOptions(signal: AbortSignal | undefined): ConfigurationOptions;
  /**
   * Maps anything a call threw to a SwitchyardError: an API error by status, an abort by the
   * signal to SWY_KUBE_TIMEOUT, anything else (refused, reset, TLS) to SWY_KUBE_UNREACHABLE.
   * `what` names the call, e.g. "read deployment app/web".
   */
  error(err: unknown, what: string, signal?: AbortSignal): SwitchyardError;
  /** Resolves when the API server's /readyz answers 200; rejects with a SwitchyardError otherwise. */
  readyz(signal: AbortSignal): Promise<void>;
  /** Closes the kept connection pool (shutdown). */
  close(): Promise<void>;
}

/** Clients by access, owned by the composition root (no module-level cache). */
export type KubernetesClientCache = Map<string, KubernetesClients>;

/** The clients of a cluster that has kubernetes settings; given by the composition root to the modules that call the API. */
export type KubernetesClientsFor = (cluster: ClusterConfig) => KubernetesClients;

export interface KubernetesClientsDeps { cache?: KubernetesClientCache }

function describeAccess(access: KubernetesAccess): string {
  const file = access.kubeconfig ?? 'the default kubeconfig';
  return access.context === undefined ? file : `${file} (context ${access.context})`;
}

function loadKubeConfig(access: KubernetesAccess): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (access.kubeconfig === undefined) kc.loadFromDefault();
    else kc.loadFromFile(access.kubeconfig);
  } catch (err) {
    throw new SwitchyardError('SWY_KUBE_CONFIG', `cannot load ${describeAccess(access)}: ${(err as Error).message}`, { kubeconfig: access.kubeconfig }, { cause: err });
  }
  if (access.context !== undefined) {
    if (!kc.getContextObject(access.context)) {
      const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
      throw new SwitchyardError('SWY_KUBE_CONFIG', `${access.kubeconfig ?? 'the default kubeconfig'} has no context "${access.context}" (it has: ${known})`, { kubeconfig: access.kubeconfig, context: access.context });
    }
    kc.setCurrentContext(access.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new SwitchyardError('SWY_KUBE_CONFIG', `${describeAccess(access)}: the current context names no cluster in the file`, { kubeconfig: access.kubeconfig, context: access.context });
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new SwitchyardError('SWY_KUBE_CONFIG', `${describeAccess(access)}: cluster ${cluster.name} has a plain http:// server, which the client refuses unless insecure-skip-tls-verify is true`, { kubeconfig: access.kubeconfig, context: access.context });
  }
  return kc;
}

/**
 * client-node 2.x builds a new undici Agent, so a new TCP/TLS connection, for every request
 * whose cluster has TLS options (a CA, a client certificate, insecure-skip-tls-verify). A client
 * set keeps the first one it is given and reuses it, so keep-alive works. (A client certificate
 * rotated by an exec plugin is picked up after a restart only.)
 */
function createDispatcherKeeper(): { keep(ctx: RequestContext): void; close(): Promise<void> } {
  let kept: Dispatcher | undefined;
  return {
    keep(ctx) {
      const d = ctx.getDispatcher();
      if (d === undefined) return;
      kept ??= d;
      if (d !== kept) ctx.setDispatcher(kept);
    },
    async close() {
      await kept?.close();
      kept = undefined;
    },
  };
}

function middleware(pre: (ctx: RequestContext) => void): ObservableMiddleware {
  return {
    pre(ctx) {
      pre(ctx);
      return new Observable(Promise.resolve(ctx));
    },
    post(res) {
      return new Observable(Promise.resolve(res));
    },
  };
}

/**
 * Per-call options: the abort signal (a timeout or shutdown) and, for patches, the patch type.
 * PATCH defaults to JSON patch in client-node; a merge patch needs its Content-Type.
 */
function requestOptions(signal: AbortSignal | undefined, patch?: PatchStrategy): ConfigurationOptions {
  const options: ConfigurationOptions = {
    middleware: signal === undefined ? [] : [middleware((ctx) => ctx.setSignal(signal))],
    middlewareMergeStrategy: 'append',
  };
  return patch === undefined ? options : setHeaderOptions('Content-Type', patch, options);
}

export function createKubernetesClients(access: KubernetesAccess, deps: KubernetesClientsDeps = {}): KubernetesClients {
  const cacheKey = JSON.stringify([access.kubeconfig ?? null, access.context ?? null]);
  const cached = deps.cache?.get(cacheKey);
  if (cached) return cached;

  const kubeConfig = loadKubeConfig(access);
  const cluster = kubeConfig.getCurrentCluster()!;
  const keeper = createDispatcherKeeper();
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    middleware: [setHeaderMiddleware('User-Agent', 'switchyard'), middleware((ctx) => keeper.keep(ctx))],
  });
  const server = cluster.server.replace(/\/+$/, '');
  const clients: KubernetesClients = {
    server,
    apps: new AppsV1Api(configuration),
    autoscaling: new AutoscalingV2Api(configuration),
    discovery: new DiscoveryV1Api(configuration),
    coordination: new CoordinationV1Api(configuration),
    core: new CoreV1Api(configuration),
    networking: new NetworkingV1Api(configuration),
    custom: new CustomObjectsApi(configuration),
    kubeConfig,
    informer: (path, list) => makeInformer(kubeConfig, path, list),
    requestOptions: (signal) => requestOptions(signal),
    mergePatchOptions: (signal) => requestOptions(signal, PatchStrategy.MergePatch),
    error: kubernetesError,
    readyz: (signal) => readyz(kubeConfig, server, keeper, signal),
    close: () => keeper.close(),
  };
  deps.cache?.set(cacheKey, clients);
  return clients;
}

async function readyz(kubeConfig: KubeConfig, server: string, keeper: ReturnType<typeof createDispatcherKeeper>, signal: AbortSignal): Promise<void> {
  const what = `GET ${server}/readyz`;
  let status: number;
  let text: string;
  try {
    const ctx = new RequestContext(`${server}/readyz`, HttpMethod.GET);
    await kubeConfig.applySecurityAuthentication(ctx);
    keeper.keep(ctx);
    const res = await fetch(ctx.getUrl(), { method: 'GET', headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher(), signal });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw kubernetesError(err, what, signal);
  }
  if (status === 200) return;
  if (status === 401 || status === 403) throw statusError(status, undefined, what);
  const failing = text.split('\n').filter((l) => l.startsWith('[-]')).map((l) => l.slice(3)).join('; ');
  throw new SwitchyardError('SWY_KUBE_NOT_READY', `${what} answered ${status}${failing ? `: ${failing.slice(0, 300)}` : ''}`, { server, status });
}

interface KubeStatus { message?: unknown; reason?: unknown }

function parseStatus(body: unknown): KubeStatus | undefined {
  if (typeof body === 'object' && body !== null) return body as KubeStatus;
  if (typeof body !== 'string') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null ? v as KubeStatus : undefined;
  } catch {
    return undefined;
  }
}

function statusError(code: number, body: unknown, what: string): SwitchyardError {
  const status = parseStatus(body);
  const reason = typeof status?.reason === 'string' ? status.reason : undefined;
  const message = typeof status?.message === 'string' ? status.message : (reason ?? `HTTP ${code}`);
  const swy: ErrorCode = code === 401 ? 'SWY_KUBE_UNAUTHORIZED'
    : code === 403 ? 'SWY_KUBE_FORBIDDEN'
    : code === 404 ? 'SWY_KUBE_NOT_FOUND'
    : code === 409 ? (reason === 'AlreadyExists' ? 'SWY_KUBE_ALREADY_EXISTS' : 'SWY_KUBE_CONFLICT')
    : 'SWY_KUBE_API_ERROR';
  const text = code === 401 ? 'Unauthorized: the API server rejected the credentials' : code === 403 && status === undefined ? 'Forbidden' : message;
  return new SwitchyardError(swy, `${what}: ${text} (HTTP ${code})`, { status: code, reason });
}

function networkCause(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    parts.push(typeof code === 'string' ? `${code} ${e.message}` : e.message);
  }
  return parts.join(': ') || String(err);
}

/** The mapping behind KubernetesClients.error (readyz uses it directly). */
function kubernetesError(err: unknown, what: string, signal?: AbortSignal): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  if (err instanceof ApiException) return statusError(err.code, err.body, what);
  const name = err instanceof Error ? err.name : '';
  if (signal?.aborted || name === 'AbortError' || name === 'TimeoutError') {
    const reason = signal?.aborted ? describeError(signal.reason) : 'aborted';
    return new SwitchyardError('SWY_KUBE_TIMEOUT', `${what}: aborted (${reason})`, undefined, { cause: err });
  }
  return new SwitchyardError('SWY_KUBE_UNREACHABLE', `${what}: ${networkCause(err)}`, undefined, { cause: err });
}
