// The validated, normalised configuration. Durations are milliseconds; names are lower-case
// without a trailing dot; paths are absolute (resolved against the config file's folder).

export interface ListenAddress { host: string; port: number; family: 4 | 6 }

export interface NameserverConfig { name: string; address: string | undefined }

export type StaticRecordType = 'A' | 'AAAA' | 'CNAME' | 'MX' | 'TXT' | 'SRV' | 'CAA' | 'NS';
/** One resource record of zone.records, served as it is. NS below the apex is a delegation. */
export type StaticRecord = { name: string; ttl: number } & (
  | { type: 'A' | 'AAAA'; address: string }
  | { type: 'CNAME' | 'NS'; target: string }
  | { type: 'MX'; preference: number; exchange: string }
  | { type: 'TXT'; strings: string[] }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'CAA'; flags: number; tag: string; value: string }
);

export interface ZoneConfig {
  name: string;
  ttl: number;
  nameservers: NameserverConfig[];
  soa: { mbox: string; negativeTtl: number; refresh: number; retry: number; expire: number };
  /** Static records (zone.records); always set by the validator, absent in hand-made test configs. */
  records?: StaticRecord[];
}

export type HttpProbeConfig = {
  kind: 'http';
  name: string;
  url: string;
  method: 'GET' | 'HEAD';
  expectStatus: number[];
  bodyContains: string | undefined;
  host: string | undefined;
  sni: string | undefined;
  headers: Record<string, string>;
  ca: string | undefined;          // absolute path of a PEM bundle
  insecureSkipVerify: boolean;
  timeout: number | undefined;     // overrides health.timeout
};
export type TcpProbeConfig = { kind: 'tcp'; name: string; host: string; port: number; timeout: number | undefined };
export type KubernetesProbeConfig = {
  kind: 'kubernetes';
  name: string;
  check:
    | { type: 'readyz' }
    | { type: 'deployment'; namespace: string; name: string; minAvailable: number }
    | { type: 'endpointslice'; namespace: string; service: string; minReady: number };
  timeout: number | undefined;
};
export type ProbeConfig = HttpProbeConfig | TcpProbeConfig | KubernetesProbeConfig;

export type HealthyWhen = { mode: 'all' } | { mode: 'any' } | { mode: 'atLeast'; n: number };

export interface KubernetesAccess { kubeconfig: string | undefined; context: string | undefined }

/** Addresses that follow a Kubernetes object's status.loadBalancer.ingress in the cluster's own context. */
export interface AddressesFrom { kind: 'service' | 'ingress'; namespace: string; name: string }

export interface ClusterConfig {
  name: string;
  addresses: string[];             // IPv4 and IPv6 literals; empty when addressesFrom is set
  addressesFrom?: AddressesFrom;   // absent: the static addresses
  upstream: string | undefined;    // http(s)://host:port used by the proxy
  hostHeader: string | undefined;  // proxy: overrides the Host passed upstream
  probes: ProbeConfig[];
  healthyWhen: HealthyWhen;
  kubernetes: KubernetesAccess | undefined;
  database: { url: string } | undefined;
}

export interface HealthConfig { interval: number; timeout: number; fall: number; rise: number; jitter: number; confirmInterval: number }

export type OnFailure = 'hold' | 'continue';
/** `nologin`: application roles lose LOGIN (holds against every non-superuser client); `read-only`: default_transaction_read_only (weaker: a client can undo it). */
export type PostgresFenceMode = 'nologin' | 'read-only';
interface StepCommon { name: string; timeout: number; retries: number; backoff: number; onFailure: OnFailure }
export type StepConfig = StepCommon & (
  | { type: 'switch-traffic' }
  | { type: 'kubernetes-scale'; namespace: string; deployments: string[]; hpas: string[]; replicas: number; wait: boolean }
  | { type: 'postgres-fence'; mode: PostgresFenceMode; terminateSessions: boolean }
  /** maxLagBytes undefined: `unbounded` (the explicit opt-out); the default is 1 MiB. */
  | { type: 'postgres-promote'; maxLagBytes: number | undefined; maxLagSeconds: number | undefined; maxRecordAge: number }
  | { type: 'cnpg-demote' | 'cnpg-promote'; namespace: string; clusters: Record<string, string> }   // switchyard cluster -> CloudNativePG Cluster name
  | { type: 'exec'; command: string[]; env: Record<string, string> }
  | { type: 'webhook'; url: string; secret: string | undefined; format: 'json' | 'slack' | 'pagerduty'; routingKey: string | undefined; headers: Record<string, string> }
);
export type StepType = StepConfig['type'];

/** One entry of `notify:`: told about holds, completed moves, an unfenced old primary, store failures; never blocking. */
interface NotifyCommon { name: string; timeout: number; retries: number; backoff: number }
export type NotifyConfig = NotifyCommon & (
  | ({ type: 'webhook' } & Pick<Extract<StepConfig, { type: 'webhook' }>, 'url' | 'secret' | 'format' | 'routingKey' | 'headers'>)
  | ({ type: 'exec' } & Pick<Extract<StepConfig, { type: 'exec' }>, 'command' | 'env'>)
);

export type FailoverPrecheck = 'parity';
export interface FailoverConfig {
  automatic: boolean;
  cooldown: number;
  prechecks?: FailoverPrecheck[];
  steps: StepConfig[];
  instances: number;               // switchyard instances expected to share the store (1: this one alone)
  quorum: number;                  // fresh observations that must agree before an automatic failover
}

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

export interface DnsConfig {
  listen: ListenAddress[];
  maxUdpSize: number;
  rateLimit: { responsesPerSecond: number; slip: number; window: number; ipv4PrefixLength: number; ipv6PrefixLength: number };
  tcp: { idleTimeout: number; maxConnections: number; maxConnectionsPerSource: number; messageTimeout: number };
  /** 1: answered on the main thread; more: that many worker threads, each with its own reusePort sockets. */
  workers: number;
}

export interface ProxyConfig {
  listen: ListenAddress;
  timeouts: { connect: number; headers: number; idle: number; clientHeaders: number; clientIdle: number };
  /** Client connections (tunnels count twice: their upstream socket too); the composition root may lower it to fit the descriptor budget. */
  maxConnections: number;
  maxConnectionsPerSource: number;
  /** Connections per cluster's upstream pool, independent of client connections. */
  upstreamConnections: number;
  /** Append to the client's X-Forwarded-* / Forwarded (a trusted proxy in front) instead of replacing them. */
  trustForwarded: boolean;
  maxHeaderSize: number;
  maxUrlLength: number;
  /** 1: the proxy forwards on the main thread; N >= 2: N worker threads with reusePort listeners share the limits. */
  workers: number;
  hostnames: string[];             // derived from the top-level hostnames: absolute-form targets must name one of them
}

export interface AdminConfig {
  listen: ListenAddress;
  token: string | undefined;
  shutdownDelay: number;
  /** Host names (lower-case) accepted in the Host header besides IP literals and localhost. */
  allowedHosts: string[];
  /** /metrics, /v1/status and the page without the token (always true without a token). */
  openReads: boolean;
}

export interface EtcdStateConfig {
  kind: 'etcd';
  endpoints: string[];             // http(s)://host:port of the etcd members
  prefix: string;                  // key prefix, starts with / and has no trailing /
  leaseTtl: number;                // seconds
  tls: { ca: string | undefined; cert: string | undefined; key: string | undefined } | undefined;   // absolute paths
  username: string | undefined;
  password: string | undefined;
}

/** Where the routing state lives: a file (one instance) or etcd (several). */
export type StateConfig = { kind: 'file'; file: string } | EtcdStateConfig;

export interface InstanceConfig { name: string }

/** File descriptors kept free of the proxy and DNS-over-TCP budgets (admin, probes, store, hooks, logs). */
export interface LimitsConfig { reservedFileDescriptors: number }

export interface Config {
  limits: LimitsConfig;
  zone: ZoneConfig;
  hostnames: string[];
  clusters: ClusterConfig[];
  health: HealthConfig;
  failover: FailoverConfig;
  notify: NotifyConfig[];
  parity?: ParityConfig;
  dns: DnsConfig;
  proxy: ProxyConfig | undefined;
  admin: AdminConfig;
  state: StateConfig;
  instance: InstanceConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}
