#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=32768 MALLOC_TOP_PAD_=1048576 node --max-semi-space-size=2
// The shebang's flag (also in deploy/Dockerfile's ENTRYPOINT; `node bin/switchyard.js` without it
// runs too, with V8's default young generation): at most 2 x 2 MiB of young generation instead of
// 2 x 64 MiB, about 100 MiB less peak RSS under full proxy load (docs/benchmarks.md, "Peak memory"
// and "Round 4").
// Its environment (also deploy/Dockerfile's ENV): glibc's malloc with two arenas and a fixed trim
// threshold, so that memory V8's background threads free goes back to the system ("Round 4"), an
// mmap threshold of 32 KiB for the compilers' zone segments ("Round 5"), and a 1 MiB top pad that
// keeps Node's 64 KiB UDP read buffers out of that threshold's mappings ("Round 6").
// Runs the TypeScript sources directly (Node 24 type stripping; Node 24 comes from `npm ci`).
// On an older Node the .ts import would fail with a stack trace: say what to do instead.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`switchyard needs Node.js 24 or newer (this is Node.js ${process.versions.node}): run it as \`npx switchyard ...\` after \`npm ci\`, which brings Node 24\n`);
  process.exit(1);
}
// The compile cache keeps the stripped sources (and V8's code cache) on disk, so later starts
// neither strip again nor load the stripper (about 16 MiB of a running switchyard). Where the
// cache folder cannot be written, Node runs on without it. Imported after the version check:
// a static import would fail on an old Node before the check could say why.
// `serve`: what runs once at start (config validation, answer tables, fastify's setup) is not
// worth optimizing, and V8's optimizing tiers (Maglev, TurboFan) would touch their share of the
// node binary's pages and compile memory for it; and the start's long-lived objects would grow the
// young generation, which an idle process never gives back. So the optimizing tiers stay off and
// the young generation at its initial size until the edge is serving (src/cli/main.ts restores
// V8's defaults then, for the hot paths): about 12 MiB less idle RSS on examples/switchyard.yaml
// (docs/benchmarks.md).
if (process.argv[2] === 'serve') {
  const { setFlagsFromString } = await import('node:v8');
  for (const flag of ['--no-maglev', '--no-turbofan', '--semi-space-growth-factor=1']) setFlagsFromString(flag);
}
const { enableCompileCache } = await import('node:module');
enableCompileCache();
const { runCli } = await import('../src/cli/main.ts');
process.exitCode = await runCli(process.argv.slice(2));
