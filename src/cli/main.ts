// The `switchyard` command. Exit codes: 0 success, 1 runtime failure, 2 invalid usage or configuration.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { cliSettings, formatConfigError, loadConfig } from '../config/index.ts';
import { SwitchyardError, isSwitchyardError, describeError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { startSwitchyard } from '../main.ts';
import type { StatusView } from '../admin/index.ts';
import { AdminApiError, createAdminClient } from './admin-client.ts';
import { formatStatus } from './format-status.ts';

const USAGE = `usage: switchyard <command> [options]

  serve    --config FILE          run the edge (DNS, proxy if configured, admin, probes, controller)
  validate --config FILE          exit 0 if valid; else exit 2 and print each error with its key path
  status   [--admin URL] [--json] active cluster, state, per-cluster health, last transition
  failover --to CLUSTER [--force] [--reason TEXT] [--admin URL]   planned switchover / manual failover
  failback [--force] [--reason TEXT] [--admin URL]               return to the preferred cluster
  drill    [--admin URL] [--to CLUSTER] [--timeout 60s]          measured failover exercise
  demo [--instances 3]            local two-cluster demo on loopback (--instances 3: a local etcd and three instances)

--admin defaults to http://127.0.0.1:9090 (or SWITCHYARD_ADMIN_URL); mutating calls send SWITCHYARD_ADMIN_TOKEN.`;

type Out = { out: (line: string) => void; err: (line: string) => void };
const stdio: Out = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new SwitchyardError('SWY_CLI_USAGE', (err as Error).message);
  }
}

const adminOption = { admin: { type: 'string' as const } };
/** A failover or failback call answers when its transition completes or holds: steps may take minutes. */
const MOVE_TIMEOUT_MS = 15 * 60_000;

function adminClient(values: Record<string, unknown>, timeoutMs?: number) {
  const settings = cliSettings();
  return createAdminClient({ baseUrl: (values.admin as string | undefined) ?? settings.adminUrl ?? 'http://127.0.0.1:9090', token: settings.adminToken, timeoutMs });
}

async function serve(args: string[], io: Out): Promise<number> {
  const values = parse(args, { config: { type: 'string', short: 'c' } });
  if (typeof values.config !== 'string') throw new SwitchyardError('SWY_CLI_USAGE', 'serve needs --config FILE');
  const config = await loadConfig(values.config);
  const logger = createLogger({ level: config.log.level });
  let app;
  try {
    app = await startSwitchyard(config, { logger, env: process.env });
  } catch (err) {
    logger.fatal({ err, code: (err as { code?: string }).code }, `switchyard cannot start: ${describeError(err)}`);
    logger.flush();
    io.err(`switchyard: ${describeError(err)}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        logger.flush();
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, `${signal} received: shutting down`);
      app.close().then(
        () => { logger.info('shutdown complete'); logger.flush(); resolve(0); },
        (err) => { logger.error({ err }, 'shutdown failed'); logger.flush(); resolve(1); },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

async function validate(args: string[], io: Out): Promise<number> {
  const values = parse(args, { config: { type: 'string', short: 'c' } });
  if (typeof values.config !== 'string') throw new SwitchyardError('SWY_CLI_USAGE', 'validate needs --config FILE');
  const config = await loadConfig(values.config);
  io.out(`${values.config}: valid (zone ${config.zone.name}, ${config.hostnames.length} hostname(s), clusters ${config.clusters.map((c) => c.name).join(', ')}, ${config.failover.steps.length} failover step(s))`);
  return 0;
}

async function status(args: string[], io: Out): Promise<number> {
  const values = parse(args, { ...adminOption, json: { type: 'boolean' } });
  const s = await adminClient(values).get<StatusView>('/v1/status');
  io.out(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  return 0;
}

async function move(kind: 'failover' | 'failback', args: string[], io: Out): Promise<number> {
  const values = parse(args, { ...adminOption, ...(kind === 'failover' ? { to: { type: 'string' as const } } : {}), force: { type: 'boolean' }, reason: { type: 'string' } });
  if (kind === 'failover' && typeof values.to !== 'string') throw new SwitchyardError('SWY_CLI_USAGE', 'failover needs --to CLUSTER');
  const body = { ...(kind === 'failover' ? { to: values.to } : {}), reason: (values.reason as string | undefined) ?? `${kind} requested from the command line`, force: values.force === true };
  const result = await adminClient(values, MOVE_TIMEOUT_MS).post<{ message?: string }>(`/v1/${kind}`, body);
  io.out(result?.message ?? JSON.stringify(result));
  return 0;
}

export async function runCli(argv: string[], io: Out = stdio): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': return await serve(rest, io);
      case 'validate': return await validate(rest, io);
      case 'status': return await status(rest, io);
      case 'failover': return await move('failover', rest, io);
      case 'failback': return await move('failback', rest, io);
      case 'drill': return await (await import('./drill.ts')).drill(rest, io);
      case 'demo': return await (await import('./demo.ts')).demo(rest, io);
      case undefined: case 'help': case '--help': case '-h':
        io.out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        io.err(`switchyard: unknown command '${command}'\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (isSwitchyardError(err, 'SWY_CONFIG_INVALID') || isSwitchyardError(err, 'SWY_CONFIG_YAML')) {
      for (const line of formatConfigError(err)) io.err(line);
      return 2;
    }
    if (isSwitchyardError(err, 'SWY_CLI_USAGE')) {
      io.err(`switchyard: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (err instanceof AdminApiError) {
      io.err(`switchyard: ${err.code}: ${err.message} (HTTP ${err.status})`);
      return err.status >= 400 && err.status < 500 ? 2 : 1;
    }
    io.err(`switchyard: ${describeError(err)}`);
    return isSwitchyardError(err, 'SWY_CONFIG_READ') ? 2 : 1;
  }
}

if (import.meta.main) {
  runCli(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
