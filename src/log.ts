// One pino logger for the process, created by the composition root and passed down; modules
// take a child (`logger.child({ module: 'dns' })`).
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino({ level: options.level, base: { service: 'switchyard' }, timestamp: pino.stdTimeFunctions.isoTime }, options.destination ?? pino.destination({ dest: 1, sync: false }));
}
