// `switchyard check [--config FILE] [--json]`: compares the clusters as the parity section says
// (the preferred cluster against each other one) and prints the differences. Exit codes: 0 no
// blocking difference, 3 a blocking difference, 1 parity unknown (a cluster could not be read),
// 2 invalid usage or configuration. @kubernetes/client-node is loaded only here, on demand.
import { util } from '../node-builtins.ts';
import { loadConfig, type ClusterConfig } from '../config/index.ts';
import { SwitchyardError, describeError, isSwitchyardError } from '../errors.ts';
import type { KubernetesClientCache } from '../kubernetes.ts';
import { compareClusters, formatReport, type ParityReport } from '../parity/index.ts';

const { parseArgs } = util;

type Out = { out: (line: string) => void; err: (line: string) => void };

export const EXIT_BLOCKING = 3;

export async function check(args: string[], io: Out): Promise<number> {
  let values: { config?: string; json?: boolean };
  try {
    values = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (err) {
    throw new SwitchyardError('SWY_CLI_USAGE', (err as Error).message);
  }
  const config = await loadConfig(values.config ?? 'switchyard.yaml');
  if (!config.parity) {
    throw new SwitchyardError('SWY_CONFIG_INVALID', 'check needs a parity section', { issues: [{ path: 'parity', message: 'is required by switchyard check: name the namespaces and objects to compare' }] });
  }
  const kube = await import('../kubernetes.ts');
  const cache: KubernetesClientCache = new Map();
  const clientsFor = (c: ClusterConfig) => kube.createKubernetesClients(c.kubernetes!, { cache });
  const reports: ParityReport[] = [];
  try {
    for (const other of config.clusters.slice(1)) reports.push(await compareClusters(config.parity, [config.clusters[0], other], { clientsFor }));
  } catch (err) {
    if (!isSwitchyardError(err)) throw err;
    if (values.json) io.out(JSON.stringify({ error: { code: err.code, message: err.message } }, null, 2));
    io.err(`switchyard: ${describeError(err)}`);
    return 1;
  } finally {
    await Promise.allSettled([...cache.values()].map((c) => c.close()));
  }
  const blocking = reports.some((r) => r.blocking);
  if (values.json) io.out(JSON.stringify({ blocking, reports }, null, 2));
  else io.out(reports.map(formatReport).join('\n\n'));
  return blocking ? EXIT_BLOCKING : 0;
}
