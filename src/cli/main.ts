// The `switchyard` command. Exit codes: 0 success, 1 runtime failure, 2 invalid usage or configuration;
// `status` also 3 held, 4 active cluster down, 5 old primary unfenced, 6 state store failing
// (the lowest that applies; every one that applies is printed on stderr); `check` 3 on a blocking difference.
import { fs, readline, util } from '../node-builtins.ts';
import type { ParseArgsConfig } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { checkEnvironment, cliSettings, configJsonSchema, configWarnings, formatConfigError, loadConfig } from '../config/index.ts';
import { SwitchyardError, isSwitchyardError, describeError } from '../errors.ts';
import { createLogger, prettyDestination } from '../log.ts';
import { startSwitchyard } from '../main.ts';
import type { StatusView } from '../admin/index.ts';
import type { MovePlan } from '../failover/index.ts';
import { AdminApiError, adminBaseUrl, createAdminClient } from './admin-client.ts';
import { formatPlan, formatStatus, statusProblems } from './format-status.ts';
import { COMMANDS, USAGE, commandHelp } from './usage.ts';
import { serveWasmFlags } from './v8-tuning.ts';

const { parseArgs } = util;
const { readFileSync } = fs;

export interface Out {
  out: (line: string) => void;
  err: (line: string) => void;
  /** True when a person is at a terminal (stdin and stdout are TTYs): failover and failback ask first. */
  interactive?: boolean;
  /** Asks a question on the terminal and resolves with the answer. */
  ask?: (question: string) => Promise<string>;
}

async function askOnTerminal(question: string): Promise<string> {
  const rl = readline().createInterface({ input: process.stdin, output: process.stdout });
  try { return await rl.question(question); } finally { rl.close(); }
}

const stdio: Out = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
  interactive: process.stdin.isTTY === true && process.stdout.isTTY === true,
  ask: askOnTerminal,
};

export function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

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
  return createAdminClient({ baseUrl: adminBaseUrl((values.admin as string | undefined) ?? settings.adminUrl), token: settings.adminToken, timeoutMs });
}

async function serve(args: string[], io: Out): Promise<number> {
  const values = parse(args, { config: { type: 'string', short: 'c' }, 'log-format': { type: 'string' } });
  if (typeof values.config !== 'string') throw new SwitchyardError('SWY_CLI_USAGE', 'serve needs --config FILE');
  const format = values['log-format'] ?? 'json';
  if (format !== 'json' && format !== 'pretty') throw new SwitchyardError('SWY_CLI_USAGE', `--log-format ${JSON.stringify(format)}: json (the default) or pretty`);
  const config = await loadConfig(values.config);
  const logger = createLogger({ level: config.log.level, destination: format === 'pretty' ? await prettyDestination({ colorize: process.stdout.isTTY === true }) : undefined });
  for (const w of configWarnings(config)) logger.warn({ code: w.code, path: w.path }, `configuration warning ${w.code} ${w.path}: ${w.message}`);
  const machine = await checkEnvironment(config, process.env);
  for (const w of machine.warnings) logger.warn({ path: w.path }, `configuration warning: ${w.path}: ${w.message}`);
  if (machine.errors.length > 0) {
    throw new SwitchyardError('SWY_CONFIG_INVALID', `configuration has ${machine.errors.length} error(s) on this machine`, { issues: machine.errors });
  }
  for (const flag of serveWasmFlags(config)) setFlagsFromString(flag);
  let app;
  try {
    app = await startSwitchyard(config, { logger, env: process.env });
    // Serving now: V8's defaults again (bin/switchyard.js held the optimizing tiers and the young
    // generation's growth back during the start), for the hot paths under load.
    for (const flag of ['--maglev', '--turbofan', '--semi-space-growth-factor=2']) setFlagsFromString(flag);
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
  // What serve would refuse at start, on this machine.
  const machine = await checkEnvironment(config, process.env);
  for (const w of machine.warnings) io.err(`warning ${w.path}: ${w.message}`);
  if (machine.errors.length > 0) {
    for (const e of machine.errors) io.err(`SWY_CONFIG_INVALID ${e.path}: ${e.message}`);
    return 2;
  }
  const warnings = configWarnings(config);
  for (const w of warnings) io.err(`WARN ${w.code} ${w.path}: ${w.message}`);
  io.out(`${values.config}: valid (zone ${config.zone.name}, ${config.hostnames.length} hostname(s), clusters ${config.clusters.map((c) => c.name).join(', ')}, ${config.failover.steps.length} failover step(s))${warnings.length > 0 ? `, ${warnings.length} warning(s)` : ''}`);
  return 0;
}

/** `switchyard schema`: the configuration's JSON Schema (the same as schema/switchyard.schema.json), for editors and CI. */
function schema(args: string[], io: Out): number {
  parse(args, {});
  io.out(JSON.stringify(configJsonSchema(), null, 2));
  return 0;
}

async function status(args: string[], io: Out): Promise<number> {
  const values = parse(args, { ...adminOption, json: { type: 'boolean' } });
  const s = await adminClient(values).get<StatusView>('/v1/status');
  io.out(values.json ? JSON.stringify(s, null, 2) : formatStatus(s));
  const problems = statusProblems(s);
  for (const p of problems) io.err(`switchyard status: ${p.what} (exit ${p.exit})`);
  return problems[0]?.exit ?? 0;
}

async function move(kind: 'failover' | 'failback', args: string[], io: Out): Promise<number> {
  const values = parse(args, { ...adminOption, ...(kind === 'failover' ? { to: { type: 'string' as const } } : {}), force: { type: 'boolean' }, reason: { type: 'string' }, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' }, json: { type: 'boolean' } });
  if (kind === 'failover' && typeof values.to !== 'string') throw new SwitchyardError('SWY_CLI_USAGE', 'failover needs --to CLUSTER');
  const body = { ...(kind === 'failover' ? { to: values.to } : {}), reason: (values.reason as string | undefined) ?? `${kind} requested from the command line`, force: values.force === true };
  const client = adminClient(values, MOVE_TIMEOUT_MS);
  const ask = values['dry-run'] !== true && values.yes !== true && io.interactive === true && io.ask !== undefined;
  if (values['dry-run'] === true || ask) {
    const plan = await client.post<MovePlan>(`/v1/${kind}`, { ...body, dryRun: true });
    io.out(values.json ? JSON.stringify(plan, null, 2) : formatPlan(plan));
    if (values['dry-run'] === true) return plan.wouldProceed ? 0 : 2;
    if (!plan.wouldProceed) return 2;
    const answer = (await io.ask!(`Proceed with the ${plan.kind} ${plan.from} → ${plan.to}? Type yes to go on: `)).trim().toLowerCase();
    if (answer !== 'yes' && answer !== 'y') {
      io.err('switchyard: not confirmed; nothing moved');
      return 1;
    }
  }
  const result = await client.post<{ message?: string }>(`/v1/${kind}`, body);
  io.out(result?.message ?? JSON.stringify(result));
  return 0;
}

export async function runCli(argv: string[], io: Out = stdio): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-V' || command === 'version') {
    io.out(`switchyard ${version()} (Node.js ${process.versions.node})`);
    return 0;
  }
  if (command !== undefined && COMMANDS.includes(command) && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    switch (command) {
      case 'serve': return await serve(rest, io);
      case 'validate': return await validate(rest, io);
      case 'schema': return schema(rest, io);
      case 'status': return await status(rest, io);
      case 'check': return await (await import('./check.ts')).check(rest, io);
      case 'failover': return await move('failover', rest, io);
      case 'failback': return await move('failback', rest, io);
      case 'drill': return await (await import('./drill.ts')).drill(rest, io);
      case 'demo': return await (await import('./demo.ts')).demo(rest, io);
      case 'help':
        if (rest[0] !== undefined && COMMANDS.includes(rest[0])) { io.out(commandHelp(rest[0])); return 0; }
        io.out(USAGE);
        return 0;
      case undefined: case '--help': case '-h':
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
      io.err(`switchyard: ${err.message}\n\n${command !== undefined && COMMANDS.includes(command) ? commandHelp(command) : USAGE}`);
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
