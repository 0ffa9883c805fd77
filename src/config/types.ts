// The validated, normalised configuration. Durations are milliseconds; names are lower-case
// without a trailing dot; paths are absolute (resolved against the config file's folder).

export interface ListenAddress { host: string; port: number; family: 4 | 6 }

export interface NameserverConfig { name: string; address: string | undefined }

export interface ZoneConfig {
  name: string;
  ttl: number;
  nameservers: NameserverConfig[];
  soa: { mbox: string; negativeTtl: number; refresh: number; retry: number; expire: number };
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

export interface ClusterConfig {
  name: string;
  addresses: string[];             // IPv4 and IPv6 literals
  upstream: string | undefined;    // http(s)://host:port used by the proxy
  hostHeader: string | undefined;  // proxy: overrides the Host passed upstream
  probes: ProbeConfig[];
  healthyWhen: HealthyWhen;
  kubernetes: KubernetesAccess | undefined;
  database: { url: string } | undefined;
}

export interface HealthConfig { interval: number; timeout: number; fall: number; rise: number; jitter: number; confirmInterval: number }

export type OnFailure = 'hold' | 'continue';
interface StepCommon { name: string; timeout: number; retries: number; backoff: number; onFailure: OnFailure }
export type StepConfig = StepCommon & (
  | { type: 'switch-traffic' }
  | { type: 'kubernetes-scale'; namespace: string; deployments: string[]; hpas: string[]; replicas: number; wait: boolean }
  | { type: 'postgres-fence'; terminateSessions: boolean }
  | { type: 'postgres-promote'; maxLagBytes: number | undefined; maxLagSeconds: number | undefined }
  | { type: 'exec'; command: string[]; env: Record<string, string> }
  | { type: 'webhook'; url: string; secret: string | undefined; format: 'json' | 'slack' | 'pagerduty'; routingKey: string | undefined; headers: Record<string, string> }
);
export type StepType = StepConfig['type'];

export interface FailoverConfig {
  automatic: boolean;
  cooldown: number;
  steps: StepConfig[];
  instances: number;               // switchyard instances expected to share the store (1: this one alone)
  quorum: number;                  // fresh observations that must agree before an automatic failover
}

export interface DnsConfig {
  listen: ListenAddress[];
  maxUdpSize: number;
  rateLimit: { responsesPerSecond: number; slip: number; window: number; ipv4PrefixLength: number; ipv6PrefixLength: number };
  tcp: { idleTimeout: number; maxConnections: number };
}

export interface ProxyConfig {
  listen: ListenAddress;
  timeouts: { connect: number; headers: number; idle: number; clientHeaders: number };
  maxHeaderSize: number;
  maxUrlLength: number;
  hostnames: string[];             // derived from the top-level hostnames: absolute-form targets must name one of them
}

export interface AdminConfig { listen: ListenAddress; token: string | undefined; shutdownDelay: number }

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

export interface Config {
  zone: ZoneConfig;
  hostnames: string[];
  clusters: ClusterConfig[];
  health: HealthConfig;
  failover: FailoverConfig;
  dns: DnsConfig;
  proxy: ProxyConfig | undefined;
  admin: AdminConfig;
  state: StateConfig;
  instance: InstanceConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}
