// dnsperf: the load generator (closed loop: at most `outstanding` queries in flight), and the
// parser of its end-of-run statistics.
import type { Cleanup } from '../support/processes.ts';

export interface DnsperfSettings {
  cpu: string;
  duration: number;        // seconds (-l)
  clients: number;         // -c: sockets (source ports)
  outstanding: number;     // -q: queries in flight at most
  qps: number;             // -Q: 0 = unlimited
  edns: boolean;           // -e
  timeout: number;         // -t seconds: a query unanswered this long is lost
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  rcodes: string;          // e.g. "NOERROR 598013 (100.00%)"
  requestBytes: number;
  responseBytes: number;
  runSeconds: number;
}

export function dnsperfArgs(port: number, queryFile: string, s: DnsperfSettings): string[] {
  const args = ['-s', '127.0.0.1', '-p', String(port), '-d', queryFile, '-l', String(s.duration),
    '-c', String(s.clients), '-q', String(s.outstanding), '-T', '1', '-t', String(s.timeout)];
  if (s.qps > 0) args.push('-Q', String(s.qps));
  if (s.edns) args.push('-e');
  return args;
}

const num = (text: string, re: RegExp, what: string): number => {
  const m = re.exec(text);
  if (!m) throw new Error(`dnsperf output has no "${what}" line`);
  return Number(m[1]);
};

/** Parses the "Statistics:" block dnsperf prints at the end of a run. */
export function parseDnsperf(text: string): DnsperfResult {
  const sent = num(text, /Queries sent:\s+(\d+)/, 'Queries sent');
  const completed = num(text, /Queries completed:\s+(\d+)/, 'Queries completed');
  const lost = num(text, /Queries lost:\s+(\d+)/, 'Queries lost');
  const qps = num(text, /Queries per second:\s+([\d.]+)/, 'Queries per second');
  const runSeconds = num(text, /Run time \(s\):\s+([\d.]+)/, 'Run time (s)');
  // With no reply at all dnsperf prints no latency or packet-size figures.
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min [\d.]+, max ([\d.]+)\)/.exec(text);
  const size = /Average packet size:\s+request (\d+), response (\d+)/.exec(text);
  const rcodes = /Response codes:\s+(.*)/.exec(text)?.[1].trim() ?? '';
  return {
    sent, completed, lost, qps, runSeconds, rcodes,
    avgLatencyMs: lat ? Number(lat[1]) * 1000 : NaN,
    maxLatencyMs: lat ? Number(lat[2]) * 1000 : NaN,
    requestBytes: size ? Number(size[1]) : NaN,
    responseBytes: size ? Number(size[2]) : NaN,
  };
}

/** Runs dnsperf pinned to `settings.cpu` and returns its parsed statistics; fails with its output otherwise. */
export async function runDnsperf(port: number, queryFile: string, settings: DnsperfSettings, cleanup: Cleanup): Promise<DnsperfResult> {
  const p = cleanup.spawn('dnsperf', 'dnsperf', dnsperfArgs(port, queryFile, settings), { cpu: settings.cpu });
  const guard = setTimeout(() => { void p.stop(); }, (settings.duration + settings.timeout + 30) * 1000);
  const { code, signal } = await p.exited;
  clearTimeout(guard);
  if (code !== 0) throw new Error(`dnsperf exited with ${code ?? signal}:\n${p.output()}`);
  try {
    return parseDnsperf(p.output());
  } catch (err) {
    throw new Error(`${(err as Error).message}:\n${p.output()}`);
  }
}
