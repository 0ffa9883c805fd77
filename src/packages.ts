// The CommonJS packages switchyard uses (pino, fastify, yaml, dns2) are loaded with require(), not
// with an ES import. An ES import of a CommonJS module makes Node load its CommonJS lexer and parse
// the module's source to find its named exports; the lexer is hot while it runs, V8 optimizes it,
// and the compile leaves 1–10 MiB of malloc'd memory behind (pino alone: +1.6 to +10.5 MiB of RSS
// imported, +0.8 MiB required; docs/benchmarks.md, "Round 4"). require() returns the same
// module.exports without any of it. The types still come from the packages:
//   const { pino } = requirePackage('pino') as typeof import('pino');
// scripts/lint.ts refuses a value import of an npm package in src (undici and prom-client come
// through src/undici-parts.ts and src/prom-client-parts.ts; src/kubernetes.ts, loaded lazily,
// imports the ES module @kubernetes/client-node and undici's fetch).
import { createRequire } from 'node:module';

export const requirePackage: NodeJS.Require = createRequire(import.meta.url);
