// The routing slice of the configuration: `state` (where the routing state lives: a file for one
// instance, etcd for several) and `instance` (this instance's name among those sharing a store).
// Declared once with src/config/schema.ts; src/config composes it.
import * as s from '../config/schema.ts';
import { join, type Issues } from '../config/fields.ts';

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

const path = (description: string, def?: string) => s.optional(s.string({ description, what: 'path' }), def === undefined ? undefined : { default: def });

export const etcdSchema = s.object({
  endpoints: s.list(s.httpUrl({ description: "an etcd member's client URL" }), { min: 1, description: 'the etcd members\' client URLs. Requests go to one and move to the next when it fails; list every member', doc: { type: 'list of URLs, at least 1', range: '`http://` or `https://` `host:port`, no path' } }),
  prefix: s.optional(s.string({ description: 'key prefix of this deployment: `<prefix>/leader`, `<prefix>/state`, `<prefix>/observations/<instance>`, `<prefix>/positions/<instance>`. Every instance of one deployment uses the same prefix', pattern: /^\/[^\s]*[^/\s]$/, what: 'a key prefix starting with / and not ending with /' }), { type: 'string', default: '`/switchyard/<zone.name>`', range: 'starts with `/`, no trailing `/`' }),
  leaseTtl: s.duration(2000, 120_000, { default: '10s', description: 'the lease of each instance. The leader acts only until its last acknowledged keep-alive + ⅔ of this (renew deadline), judged on its own clock; keep-alives and campaign rounds run every 2/15 of it (client-go\'s 15 s / 10 s / 2 s, scaled). A dead leader is replaced within about `leaseTtl` + one retry period', doc: { range: '2s..2m, whole seconds' } }),
  tls: s.optional(s.object({
    ca: path('PEM bundle of the CA that signed the members\' certificates (`SWY_STORE_TLS` if unreadable)', 'system roots'),
    cert: path('client certificate (PEM), for etcd\'s `--client-cert-auth`', 'none (with `key`)'),
    key: path('its private key (PEM)', 'none (with `cert`)'),
  }, { description: 'TLS to etcd', doc: { range: 'endpoints must be `https://`' } }), { default: 'none (plain HTTP)' }),
  username: s.optional(s.string({ description: 'etcd user (etcd authentication: a token from `/v3/auth/authenticate`, renewed when etcd rejects it)' })),
  password: s.optional(s.string({ description: 'its password; put it in the environment: `password: "${ETCD_PASSWORD}"`' }), { range: 'needs `username`' }),
}, { description: 'several instances: the state lives in etcd. Set `file` or `etcd`, not both' });

export const stateSchema = s.object({
  file: s.optional(s.string({ description: 'JSON file, written atomically (temp file, fsync, rename), with a second copy `<file>.copy` written after it and a lock `<file>.lock`. Its folder must be writable. Created with the preferred cluster active only when both the file and its copy are missing; a missing file with a copy is restored from the copy (`SWY_STATE_MISSING`, reported); a corrupt file stops switchyard from starting (`SWY_STATE_CORRUPT`)', what: 'path' }), { default: '`./switchyard-state.json` (next to the config file)' }),
  etcd: s.optional(etcdSchema),
  kubernetes: s.optional(s.custom({ not: {} }, (_v, p, issues) => {
    issues.push({ path: p, message: 'is not supported yet (a Kubernetes Lease store in a third, management cluster is a later adapter); use state.file for one instance or state.etcd for several' });
    return undefined;
  }, { type: 'reserved', description: 'reserved for a Kubernetes Lease store in a third, management cluster (a later adapter behind the same interface); **not supported yet**: `validate` rejects it' })),
}, { default: {}, description: 'Where the routing state lives: a file (one instance) or etcd (several).' });

export function readState(v: unknown, zone: string | undefined, issues: Issues, abs: (p: string) => string): StateConfig | undefined {
  const before = issues.length;
  const r = s.readNode(stateSchema, v, 'state', issues);
  if (!r) return undefined;
  if (r.etcd === undefined) return { kind: 'file', file: abs(r.file ?? './switchyard-state.json') };
  if (r.file !== undefined) {
    issues.push({ path: 'state', message: 'set either file or etcd, not both' });
    return undefined;
  }
  const e = r.etcd;
  e.endpoints.forEach((u, i) => {
    if (new URL(u).pathname !== '/') issues.push({ path: join('state.etcd.endpoints', i), message: `expected scheme://host:port without a path, got ${JSON.stringify(u)}` });
    if (e.tls && u.startsWith('http:')) issues.push({ path: join('state.etcd.endpoints', i), message: 'state.etcd.tls is set: use an https:// endpoint' });
  });
  if (e.leaseTtl % 1000 !== 0) issues.push({ path: 'state.etcd.leaseTtl', message: `etcd leases are whole seconds, got ${e.leaseTtl}ms` });
  if (e.tls && (e.tls.cert === undefined) !== (e.tls.key === undefined)) issues.push({ path: e.tls.cert === undefined ? 'state.etcd.tls.cert' : 'state.etcd.tls.key', message: 'a client certificate needs both cert and key' });
  if (e.password !== undefined && e.username === undefined) issues.push({ path: 'state.etcd.password', message: 'is set without state.etcd.username' });
  const prefix = e.prefix ?? (zone ? `/switchyard/${zone}` : undefined);
  if (prefix === undefined || issues.length !== before) return undefined;
  const tls = e.tls && { ca: e.tls.ca && abs(e.tls.ca), cert: e.tls.cert && abs(e.tls.cert), key: e.tls.key && abs(e.tls.key) };
  return { kind: 'etcd', endpoints: e.endpoints, prefix, leaseTtl: Math.round(e.leaseTtl / 1000), tls, username: e.username, password: e.password };
}

const INSTANCE_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export const instanceSchema = s.object({
  name: s.optional(s.string({ description: 'this instance\'s name among those sharing one etcd prefix: its observation key, the leader key\'s value, status and logs. **Unique** per instance; in Kubernetes set it explicitly (a pod\'s host name changes on every restart)', pattern: INSTANCE_NAME, what: 'a lower-case DNS label (a-z, 0-9, -, 1..63 characters)' }), {
    type: 'string', default: "the host name's first label, lower-case (`edge-east` on `edge-east.prod.example.net`)", range: 'a DNS label: `a-z`, `0-9`, `-`, 1..63 characters',
  }),
}, { default: {}, description: "This instance's identity among those sharing one store." });

export function readInstance(v: unknown, host: string, issues: Issues): InstanceConfig | undefined {
  const r = s.readNode(instanceSchema, v, 'instance', issues);
  if (!r) return undefined;
  if (r.name !== undefined) return { name: r.name };
  // The host name, made a label: the first label, lower-case, other characters as '-'.
  const name = host.split('.')[0].toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'switchyard';
  return { name };
}
