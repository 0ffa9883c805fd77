// The file-descriptor budget: the process's open-file limit split between the listeners that
// strangers can fill (proxy clients, DNS over TCP) and everything else, so that a proxy full of
// idle connections never leaves the admin API, the probes, the store, hooks or DNS without a
// descriptor. Used by the composition root; the split itself is pure.
import { fs } from './node-builtins.ts';

const { readFileSync } = fs;

export interface FdBudgetInput {
  /** The soft RLIMIT_NOFILE, or undefined when it cannot be read (the configured caps stand). */
  limit: number | undefined;
  /** limits.reservedFileDescriptors: for admin, probes, store, hooks, logs and Node itself. */
  reserved: number;
  /** Listening sockets (DNS UDP+TCP per address, proxy, admin). */
  listeners: number;
  dnsTcp: number;
  /** Connections per upstream pool, and how many pools (clusters). */
  upstreamConnections: number;
  pools: number;
  /** proxy.maxConnections, or 0 without a proxy. */
  proxyClients: number;
}

export interface FdBudget {
  dnsTcp: number;
  upstreamConnections: number;
  proxyClients: number;
  /** What was lowered and why, for the start-up log. */
  lowered: string[];
}

/**
 * DNS over TCP and the upstream pools get what is configured but at most a quarter each of what
 * is left after the reserve; the proxy's clients get the rest, at most what is configured.
 */
export function splitFdBudget(i: FdBudgetInput): FdBudget {
  const lowered: string[] = [];
  if (i.limit === undefined) return { dnsTcp: i.dnsTcp, upstreamConnections: i.upstreamConnections, proxyClients: i.proxyClients, lowered };
  const available = Math.max(0, i.limit - i.reserved - i.listeners);
  const quarter = Math.max(1, Math.floor(available / 4));
  const dnsTcp = Math.min(i.dnsTcp, quarter);
  if (dnsTcp < i.dnsTcp) lowered.push(`dns.tcp.maxConnections ${i.dnsTcp} → ${dnsTcp}`);
  let upstreamConnections = i.upstreamConnections;
  if (i.proxyClients > 0 && i.pools > 0 && i.upstreamConnections * i.pools > quarter) {
    upstreamConnections = Math.max(1, Math.floor(quarter / i.pools));
    lowered.push(`proxy.upstreamConnections ${i.upstreamConnections} → ${upstreamConnections}`);
  }
  let proxyClients = i.proxyClients;
  if (i.proxyClients > 0) {
    proxyClients = Math.max(1, Math.min(i.proxyClients, available - dnsTcp - (i.pools * upstreamConnections)));
    if (proxyClients < i.proxyClients) lowered.push(`proxy.maxConnections ${i.proxyClients} → ${proxyClients}`);
  }
  return { dnsTcp, upstreamConnections, proxyClients, lowered };
}

/** The soft "Max open files" of this process (Linux /proc), undefined elsewhere or when unlimited. */
export function readFdLimit(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(read('/proc/self/limits'));
    return m === null || m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}
