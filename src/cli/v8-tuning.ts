// V8 settings `serve` chooses from the configuration, before anything loads undici's HTTP parser.
// undici parses HTTP responses with llhttp compiled to WebAssembly. After a few responses V8's
// dynamic tiering hands its one big state-machine function to TurboFan, whose compile leaves 13-16
// MiB in the process for good (serve on examples/switchyard.yaml with both probes answered: 91 MiB
// idle instead of 77). Without the proxy, undici parses only probe and webhook responses, a few a
// second, where the baseline compiler (Liftoff) is plenty: the parser stays on it. With the proxy,
// every proxied response goes through it, and TurboFan's code took about 10 % less CPU per request
// in A/B pairs of the proxy benchmark (docs/benchmarks.md, "Round 3"), so V8's default stays.
// The flags take effect for WebAssembly compiled after they are set; undici compiles llhttp on its
// first connection, after serve has read its configuration.
import type { Config } from '../config/index.ts';

const LIFTOFF_ONLY_FLAGS: readonly string[] = ['--no-wasm-dynamic-tiering', '--no-wasm-tier-up'];

/** The V8 flags serve sets once the configuration is read (none: V8's defaults). */
export function serveWasmFlags(config: Pick<Config, 'proxy'>): readonly string[] {
  return config.proxy === undefined ? LIFTOFF_ONLY_FLAGS : [];
}
