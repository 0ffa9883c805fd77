// The one catalogue of switchyard error codes. Codes are stable, never reused, and
// documented in docs/errors.md (a test checks that both list the same codes).
// Callers match on `.code`, never on the message. Each entry also carries the HTTP status an API
// answers the code with (`statusCode`, as fastify's errors do): the admin API and the proxy read
// it from here, so no area keeps its own code→status table.

/** One catalogue entry, as fastify's errors are: the code's message and the HTTP status an API answers it with (500 unless given). */
export interface ErrorInfo { readonly message: string; readonly statusCode: number }
const e = (message: string, statusCode = 500): ErrorInfo => ({ message, statusCode });

export const ERROR_CODES = {
  // --- config ---
  SWY_CONFIG_READ: e('the configuration file cannot be read'),
  SWY_CONFIG_YAML: e('the configuration file is not valid YAML'),
  SWY_CONFIG_INVALID: e('the configuration has one or more errors; each names its key path'),
  SWY_CONFIG_WARN_COOLDOWN: e('warning: failover.cooldown is longer than a drill (15m): after a drill and its failback, a real failure holds instead of failing over'),
  SWY_CONFIG_WARN_NO_DATABASE_STEP: e('warning: automatic failover with a cluster database but no postgres-fence or postgres-promote step'),
  SWY_CONFIG_WARN_TTL_DETECTION: e('warning: zone.ttl is shorter than the worst-case failure detection of the health settings'),
  // --- state ---
  SWY_STATE_READ: e('the state file exists but cannot be read'),
  SWY_STATE_CORRUPT: e('the state file is not a valid switchyard state; refusing to start rather than reset to the primary'),
  SWY_STATE_UNKNOWN_CLUSTER: e('the state names an active cluster that is not in the configuration'),
  SWY_STATE_WRITE: e('the state could not be written'),
  SWY_STATE_CONFLICT: e('the state changed underneath this writer (generation or resourceVersion mismatch)', 409),
  SWY_STATE_MISSING: e('the state file went missing (deleted while running: rewritten from memory; missing at start: restored from its copy)'),
  SWY_STATE_LOCKED: e('another switchyard holds the lock on this state file; a second serve on the same file refuses to start'),
  // --- store (etcd, several instances) ---
  SWY_STORE_UNAVAILABLE: e('no etcd endpoint answered within its timeout (refused, unreachable, no leader)'),
  SWY_STORE_OUTCOME_UNKNOWN: e('a transaction was sent to etcd but its answer was lost; it may or may not have been applied (re-read)'),
  SWY_STORE_REJECTED: e('etcd answered the request with an error (invalid request, permission denied, quota)'),
  SWY_STORE_BAD_RESPONSE: e('etcd answered with something that is not the JSON gateway\'s reply'),
  SWY_STORE_AUTH: e('etcd authentication failed (wrong user or password, or auth enabled without state.etcd.username)'),
  SWY_STORE_TLS: e('a PEM file named in state.etcd.tls cannot be read'),
  SWY_STORE_LEASE_EXPIRED: e('the etcd lease is gone (expired or revoked); whatever it held has been deleted'),
  SWY_STORE_WATCH_FAILED: e('an etcd watch stream failed; it re-opens from its revision on the next endpoint'),
  SWY_STORE_NOT_LEADER: e('this instance does not lead (a follower refuses moves; a guarded write was refused: it no longer holds the leader key or its term changed)', 503),
  SWY_STORE_ETCD_NOT_INSTALLED: e('the etcd binary needed for a local etcd (demo --instances) is not on PATH; install Debian\'s etcd-server'),
  // --- admin ---
  SWY_ADMIN_TOKEN_REQUIRED: e('the admin listener is not on loopback and no admin token is set'),
  SWY_ADMIN_TOKEN_EMPTY: e('SWITCHYARD_ADMIN_TOKEN is set but empty (or contains whitespace); an empty token is not "no authentication"'),
  SWY_ADMIN_UNAUTHORIZED: e('missing or wrong bearer token on a mutating admin call (or on a read when admin.openReads is false)', 401),
  SWY_ADMIN_HOST_REJECTED: e('the Host header is neither an IP literal, localhost nor in admin.allowedHosts (DNS rebinding defence); 403', 403),
  SWY_ADMIN_CROSS_SITE: e('a mutating call came from another site\'s page (Sec-Fetch-Site or Origin); 403', 403),
  SWY_ADMIN_CONTENT_TYPE: e('a mutating call without Content-Type: application/json; 415', 415),
  SWY_ADMIN_BAD_REQUEST: e('the admin request body or parameters are invalid', 400),
  SWY_ADMIN_NOT_FOUND: e('no such admin route', 404),
  SWY_ADMIN_UNAVAILABLE: e('the admin API cannot serve this request right now', 503),
  SWY_ADMIN_UNREACHABLE: e('the CLI could not reach the admin API'),
  // --- cli ---
  SWY_CLI_USAGE: e('the command line is invalid'),
  // --- listen ---
  SWY_LISTEN_FAILED: e('a listener could not bind its address'),
  // --- kubernetes ---
  SWY_KUBE_CONFIG: e('the kubeconfig cannot be loaded, has no such context, or the cluster has no kubernetes settings'),
  SWY_KUBE_UNAUTHORIZED: e('the Kubernetes API server rejected the credentials (401)'),
  SWY_KUBE_FORBIDDEN: e('RBAC forbids the request (403); the message names the verb and resource to grant'),
  SWY_KUBE_NOT_FOUND: e('the named Kubernetes object or namespace does not exist (404)'),
  SWY_KUBE_CONFLICT: e('the Kubernetes object changed underneath this writer (409 Conflict, stale resourceVersion)'),
  SWY_KUBE_ALREADY_EXISTS: e('the Kubernetes object to create already exists (409 AlreadyExists)'),
  SWY_KUBE_API_ERROR: e('the Kubernetes API server answered with another error status (400, 422, 5xx)'),
  SWY_KUBE_UNREACHABLE: e('the Kubernetes API server could not be reached (connection refused or reset, DNS, TLS)'),
  SWY_KUBE_TIMEOUT: e('a Kubernetes API request was aborted by its timeout or by shutdown'),
  SWY_KUBE_NOT_READY: e('the Kubernetes API server /readyz did not answer 200 (the message lists the failing checks)'),
  // --- addresses ---
  SWY_ADDRESSES_HOSTNAME: e('a Service or Ingress named by addresses.fromService/fromIngress reports a hostname, not an IP, in status.loadBalancer.ingress; switchyard serves IPs only and keeps the last good list'),
  SWY_ADDRESSES_EMPTY: e('the Service or Ingress named by addresses.fromService/fromIngress has no address in status.loadBalancer.ingress (not provisioned yet, or released); the last good list is kept'),
  SWY_ADDRESSES_NOT_FOUND: e('the Service or Ingress named by addresses.fromService/fromIngress does not exist (or was deleted); the last good list is kept'),
  // --- parity ---
  SWY_PARITY_DRIFT: e('the clusters differ in a way that parity.blocking names (an image, a ConfigMap or Secret, capacity, a missing object): the parity precheck holds'),
  SWY_PARITY_UNKNOWN: e('the parity comparison could not read one of the clusters, so parity is unknown: the parity precheck holds'),
  // --- dns ---
  SWY_DNS_ANSWER_TABLE: e('the DNS answer table cannot be built (active cluster not configured, or a hostname outside the zone)'),
  // --- health ---
  SWY_HEALTH_KUBE_DEPLOYMENT_UNAVAILABLE: e('a kubernetes probe: the Deployment has fewer available replicas than minAvailable'),
  SWY_HEALTH_KUBE_ENDPOINTS_NOT_READY: e('a kubernetes probe: the Service\'s EndpointSlices have fewer ready endpoints than minReady'),
  SWY_HEALTH_TIMEOUT: e('a health check did not finish within its timeout'),
  SWY_HEALTH_STILL_RUNNING: e('a health check was due while the previous one had not returned yet (the probe ignored its abort signal); counted as a failure'),
  SWY_HEALTH_UNEXPECTED_STATUS: e('an http probe got a status code that is not in its expectStatus list'),
  SWY_HEALTH_BODY_MISMATCH: e('an http probe did not find bodyContains in the first 64 KiB of the response body'),
  SWY_HEALTH_CA_READ: e('the PEM file named by an http probe\'s ca cannot be read'),
  SWY_HEALTH_STOPPED: e('the health monitor stopped while a check was running'),
  // --- failover ---
  SWY_FAILOVER_KUBE_NOT_AVAILABLE: e('kubernetes-scale with wait: the step ended before the Deployments had the requested available replicas'),
  SWY_FAILOVER_UNKNOWN_CLUSTER: e('the requested cluster is not in the configuration', 404),
  SWY_FAILOVER_ALREADY_ACTIVE: e('the requested cluster is already the active one', 409),
  SWY_FAILOVER_IN_PROGRESS: e('a transition is already running; wait for it to finish or hold', 409),
  SWY_FAILOVER_PRECHECK_FAILED: e('a precheck failed (target health, a step precheck such as replica lag); nothing moved; --force overrides', 409),
  SWY_FAILOVER_STEP_TIMEOUT: e('a failover step did not finish within its timeout'),
  SWY_FAILOVER_STEP_FAILED: e('a failover step failed after its retries'),
  SWY_FAILOVER_HELD: e('the transition stopped in the held state; the status says why', 409),
  SWY_FAILOVER_JOURNAL_MISMATCH: e('the journal of an unfinished transition does not match the configured steps; holding instead of guessing'),
  SWY_FAILOVER_SHUTDOWN: e('switchyard is shutting down; the transition resumes from the journal at the next start', 503),
  SWY_FAILOVER_DB_UNREACHABLE: e('a cluster database could not be reached (connection refused or timed out, or the server is not accepting connections)'),
  SWY_FAILOVER_DB_REJECTED: e('a cluster database answered but refused the connection (authentication, unknown database, too many connections)'),
  SWY_FAILOVER_DB_PERMISSION: e('the database user lacks a privilege the step needs (pg_promote, superuser for the nologin fence, ALTER SYSTEM, pg_reload_conf, pg_signal_backend)'),
  SWY_FAILOVER_REPLICA_LAG: e('the target standby is behind: WAL lag over maxLagBytes, replay delay over maxLagSeconds, or replay paused with WAL pending'),
  SWY_FAILOVER_PROMOTE_FAILED: e('the target database is still in recovery after pg_promote'),
  SWY_FAILOVER_TARGET_NOT_STANDBY: e('the promotion target is not in recovery (an old primary never rebuilt): rebuild it as a replica of the current primary first'),
  SWY_FAILOVER_NOT_REPLICATING: e('the promotion target is not a standby streaming from the current primary (absent from its pg_stat_replication, not streaming, or another system identifier)'),
  SWY_FAILOVER_POSITION_UNKNOWN: e('the source did not answer and there is no fresh record of its WAL position: the lag is unknown, so the promotion holds'),
  SWY_FAILOVER_PROMOTION_UNVERIFIED: e('on resume, the target is not in recovery but this transition cannot have promoted it (no earlier attempt, or its timeline did not advance)'),
  SWY_FAILOVER_FENCE_FAILED: e('the source database is reachable and a primary but could not be fenced'),
  SWY_FAILOVER_CNPG_IDENTITY: e('cnpg-promote: the target CloudNativePG Cluster is not the replica of the source (spec.replica names another primary or itself, or the systemIDs differ), or it was promoted by someone else'),
  SWY_FAILOVER_CNPG_NO_TOKEN: e('cnpg-promote: the source gave no demotion token (it was not demoted, or cannot be reached), so the replica\'s lag is unknown; --force promotes without one'),
  SWY_FAILOVER_CNPG_PROMOTE_FAILED: e('cnpg-promote or cnpg-demote: the operator did not finish the promotion or demotion before the step ended, or reports that it cannot'),
  SWY_FAILOVER_EXEC_FAILED: e('an exec step could not start, exited non-zero, or was killed on its timeout'),
  SWY_FAILOVER_WEBHOOK_FAILED: e('a webhook request failed or got a non-2xx answer'),
  // --- proxy ---
  SWY_PROXY_UPSTREAM_UNREACHABLE: e('the proxy could not connect to the upstream (refused, unreachable); 502, retried only on the target of a transition in progress', 502),
  SWY_PROXY_CONNECT_TIMEOUT: e('connecting to the upstream took longer than proxy.timeouts.connect; 504, retried only on the target of a transition in progress', 504),
  SWY_PROXY_HEADERS_TIMEOUT: e('the upstream sent no response headers within proxy.timeouts.headers; 504', 504),
  SWY_PROXY_IDLE_TIMEOUT: e('the upstream response body stalled for longer than proxy.timeouts.idle; the response is aborted', 504),
  SWY_PROXY_UPSTREAM_RESET: e('the upstream closed or reset the connection before a complete response; 502 (retried only when the request was never written)', 502),
  SWY_PROXY_UPSTREAM_ERROR: e('the upstream sent an invalid response; 502', 502),
  SWY_PROXY_NO_UPSTREAM: e('the active cluster has no upstream in the proxy; 503', 503),
  SWY_PROXY_MISDIRECTED: e('an absolute-form request target names a host this proxy does not serve (not an open proxy); 421', 421),
  SWY_PROXY_BAD_REQUEST: e('the request is malformed or uses a request-target form the proxy does not forward; 400', 400),
  SWY_PROXY_CONNECT_REJECTED: e('CONNECT is refused: the proxy is not a tunnel to arbitrary hosts; 405', 405),
  SWY_PROXY_URL_TOO_LONG: e('the request target is longer than proxy.maxUrlLength; 414', 414),
  SWY_PROXY_HEADERS_TOO_LARGE: e('the request line and headers exceed proxy.maxHeaderSize; 431', 431),
  SWY_PROXY_CLIENT_TIMEOUT: e('the client did not send complete request headers within proxy.timeouts.clientHeaders; 408', 408),
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status the admin API and the proxy answer a code with. */
export const httpStatusOf = (code: ErrorCode): number => ERROR_CODES[code].statusCode;

export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** The HTTP status of the code, from the catalogue. */
  get statusCode(): number { return ERROR_CODES[this.code].statusCode; }
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SwitchyardError';
    this.code = code;
    this.details = details;
  }
}

export function isSwitchyardError(err: unknown, code?: ErrorCode): err is SwitchyardError {
  return err instanceof SwitchyardError && (code === undefined || err.code === code);
}

/** A short one-line description of any thrown value, for logs and status. */
export function describeError(err: unknown): string {
  if (err instanceof SwitchyardError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
