// CPU and memory of the server under load, sampled from /proc: the process's own CPU time and
// RSS, and how busy the server's and the load generator's cores were.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** /proc/PID/stat's fields after the command name (which is in parentheses and may contain spaces). */
const statFields = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
};

/** CPU seconds (user + system, all threads) used so far by `pid`. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * Minor page faults of `pid` so far (all threads). A server in a steady state takes almost none;
 * thousands a second mean memory is mapped and unmapped under load (glibc serving a malloc above
 * its mmap threshold with a new mapping, then unmapping it at free).
 */
export function minorFaults(pid: number): number {
  return Number(statFields(pid)[7]);
}

/** Resident set size of `pid` in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Busy and total clock ticks of one CPU so far, from /proc/stat (busy: all but idle and iowait). */
export function cpuTicks(cpu: string): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) throw new Error(`no cpu${cpu} line in /proc/stat`);
  const f = line.trim().split(/\s+/).slice(1, 9).map(Number);   // user nice system idle iowait irq softirq steal
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total };
}

export interface Usage {
  cpuSeconds: number;        // used by the process
  minorFaults: number;       // taken by the process
  wallSeconds: number;
  peakRssKiB: number;
  serverCoreBusy: number;    // share of the server's core that was busy (the process, its kernel work, anything else)
  clientCoreBusy: number;    // the same for the load generator's core
}

/** Samples RSS every `everyMs` until stopped; CPU figures are differences between start and stop. */
export function sampleUsage(pid: number, serverCpu: string, clientCpu: string, everyMs = 100): { stop(): Usage } {
  const cpu0 = cpuSeconds(pid);
  const faults0 = minorFaults(pid);
  const server0 = cpuTicks(serverCpu);
  const client0 = cpuTicks(clientCpu);
  const t0 = performance.now();
  let peak = rssKiB(pid);
  const timer = setInterval(() => {
    try { peak = Math.max(peak, rssKiB(pid)); } catch { /* gone: the caller notices the exit */ }
  }, everyMs);
  const share = (a: { busy: number; total: number }, b: { busy: number; total: number }) => (b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0);
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, rssKiB(pid));
      return {
        cpuSeconds: cpuSeconds(pid) - cpu0,
        minorFaults: minorFaults(pid) - faults0,
        wallSeconds: (performance.now() - t0) / 1000,
        peakRssKiB: peak,
        serverCoreBusy: share(server0, cpuTicks(serverCpu)),
        clientCoreBusy: share(client0, cpuTicks(clientCpu)),
      };
    },
  };
}
