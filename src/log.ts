// One pino logger for the process, created by the composition root and passed down; modules
// take a child (`logger.child({ module: 'dns' })`). Lines carry the level's name
// (`"level":"warn"`), not pino's number.
import type { Logger, DestinationStream } from 'pino';
import { SwitchyardError } from './errors.ts';
import { requirePackage } from './packages.ts';

export type { Logger };

const { pino } = requirePackage('pino') as typeof import('pino');

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({
    level: options.level,
    base: { service: 'switchyard' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

/**
 * `--log-format pretty`: pino-pretty (an optional dependency, loaded only here) writing
 * human-readable lines to stdout. It reads the level names written above.
 */
export async function prettyDestination(options: { colorize: boolean }): Promise<DestinationStream> {
  let pretty: typeof import('pino-pretty').build;
  try {
    pretty = (await import('pino-pretty')).build;
  } catch (err) {
    throw new SwitchyardError('SWY_CLI_USAGE', `--log-format pretty needs the optional dependency pino-pretty, which is not installed (npm install pino-pretty): ${(err as Error).message}`);
  }
  return pretty({ colorize: options.colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' });
}
