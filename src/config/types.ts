// The validated, normalised configuration. Durations are milliseconds; names are lower-case
// without a trailing dot; paths are absolute (resolved against the config file's folder).

export interface ListenAddress { host: string; port: number; family: 4 | 6 }

export type { NameserverConfig, ZoneConfig, DnsConfig } from '../dns/config.ts';
export type { StaticRecord, StaticRecordType } from '../dns/config-records.ts';
export type {
  HealthConfig, HttpProbeConfig, TcpProbeConfig, KubernetesProbeConfig, ProbeConfig, HealthyWhen, KubernetesAccess, AddressesFrom, ClusterConfig,
} from '../health/config.ts';
export type { OnFailure, PostgresFenceMode, StepConfig, StepType, NotifyConfig, FailoverPrecheck, FailoverConfig } from '../failover/config.ts';
export type { ParityKind, ParityNamespace, ParityConfig } from '../parity/config.ts';
export type { ProxyConfig } from '../proxy/config.ts';
export type { AdminConfig } from '../admin/config.ts';
export type { EtcdStateConfig, StateConfig, InstanceConfig } from '../routing/config.ts';
import type { ZoneConfig, DnsConfig } from '../dns/config.ts';
import type { ClusterConfig, HealthConfig } from '../health/config.ts';
import type { FailoverConfig, NotifyConfig } from '../failover/config.ts';
import type { ParityConfig } from '../parity/config.ts';
import type { ProxyConfig } from '../proxy/config.ts';
import type { AdminConfig } from '../admin/config.ts';
import type { StateConfig, InstanceConfig } from '../routing/config.ts';

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
