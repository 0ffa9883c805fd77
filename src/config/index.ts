export type * from './types.ts';
export { loadConfig, parseConfig, formatConfigError, substituteEnv, cliSettings, type Env } from './load.ts';
export { parseDuration, type ConfigIssue } from './fields.ts';
export { configWarnings, worstDetectionMs, type ConfigWarning } from './warnings.ts';
