// A hostile TCP client for whole-process tests, run as its own process (the test's own open-file
// limit would not hold 20,000 sockets next to everything else): it opens `count` connections to
// 127.0.0.1:PORT spread over the source addresses 127.0.0.FIRST .. FIRST+SOURCES-1, holds them
// for HOLD_MS and re-opens each one the server closes (after 200 ms), either sending nothing
// (`idle`) or trickling one byte every TRICKLE_MS (`trickle`). Bounded: at most 4 × count connects,
// at most 500 connects in flight, and it exits after HOLD_MS whatever happens.
// Reports `open=N connects=N closedByServer=N` lines on stdout every 500 ms, and once at the end.
//
//   node test/support/tcp-flood.ts PORT COUNT FIRST SOURCES HOLD_MS MODE [TRICKLE_MS]
import { connect, type Socket } from 'node:net';

const [port, count, first, sources, holdMs] = process.argv.slice(2, 7).map(Number);
const mode = process.argv[7] === 'trickle' ? 'trickle' : 'idle';
const trickleMs = Number(process.argv[8] ?? 5000);
if (!(port > 0 && count > 0 && first > 0 && sources > 0 && first + sources <= 255 && holdMs > 0)) {
  process.stderr.write('usage: tcp-flood.ts PORT COUNT FIRST SOURCES HOLD_MS idle|trickle [TRICKLE_MS]\n');
  process.exit(2);
}

const started = Date.now();
const maxConnects = count * 4;
let connects = 0;
let inFlight = 0;
let closedByServer = 0;
let failed = 0;
let next = 0;
const open = new Set<Socket>();
const queue: number[] = [];
let stopping = false;

function openOne(slot: number): void {
  if (stopping || connects >= maxConnects) return;
  if (inFlight >= 500) { queue.push(slot); return; }
  connects++;
  inFlight++;
  const s = connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${first + (slot % sources)}` });
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  s.on('connect', () => {
    connected = true;
    inFlight--;
    open.add(s);
    pump();
    if (mode === 'trickle') {
      s.write(Buffer.from([0]));
      timer = setInterval(() => { if (!s.destroyed) s.write(Buffer.from([0])); }, trickleMs);
    }
  });
  s.on('error', () => {});
  s.on('close', () => {
    clearInterval(timer);
    if (!connected) { inFlight--; failed++; pump(); }
    open.delete(s);
    if (stopping) return;
    if (connected) closedByServer++;
    setTimeout(() => openOne(slot), 200);
  });
}

function pump(): void {
  while (inFlight < 500 && queue.length > 0) openOne(queue.shift()!);
}

const report = () => process.stdout.write(`open=${open.size} connects=${connects} closedByServer=${closedByServer} failed=${failed} ms=${Date.now() - started}\n`);
const progress = setInterval(report, 500);
for (; next < count; next++) openOne(next);

setTimeout(() => {
  stopping = true;
  clearInterval(progress);
  report();
  for (const s of open) s.destroy();
  process.exit(0);
}, holdMs);
