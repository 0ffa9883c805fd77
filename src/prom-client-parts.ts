// The parts of prom-client switchyard uses: the registry and the counter, gauge and histogram
// classes, loaded from prom-client's own files with require(). prom-client's index loads every part
// it has, and with them node:https and node:zlib (its Pushgateway), the summary's t-digest and the
// default metrics' node:perf_hooks and node:v8: about 9 MiB of RSS (docs/benchmarks.md, "Round 4"),
// which a process that does not collect the default metrics (the proxy benchmark's process, the
// worker threads) never uses. An ES import of the index also loads Node's CommonJS lexer to find its
// named exports. collectDefaultMetrics loads its file on its first call (serve calls it once).
// The classes are prom-client's own, so its types describe them; scripts/lint.ts refuses a value
// import of 'prom-client' anywhere else in src.
import type * as Prom from 'prom-client';
import { requirePackage as require } from './packages.ts';

export const Registry: typeof Prom.Registry = require('prom-client/lib/registry.js');
export type Registry = Prom.Registry;
export const Counter: typeof Prom.Counter = require('prom-client/lib/counter.js');
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge: typeof Prom.Gauge = require('prom-client/lib/gauge.js');
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram: typeof Prom.Histogram = require('prom-client/lib/histogram.js');
export type Histogram<T extends string = string> = Prom.Histogram<T>;

/** prom-client's collectDefaultMetrics (process, event loop, GC and heap metrics), loaded on first call. */
export function collectDefaultMetrics(config?: Prom.DefaultMetricsCollectorConfiguration<Prom.RegistryContentType>): void {
  (require('prom-client/lib/defaultMetrics.js') as typeof Prom.collectDefaultMetrics)(config);
}
