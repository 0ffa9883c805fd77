import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { createTcpProbe } from '../../../../src/health/probes/tcp.ts';

const probeFor = (host: string, port: number) => createTcpProbe({ kind: 'tcp', name: `tcp ${host}:${port}`, host, port, timeout: undefined });

test('passes when a connection is accepted, and closes it', async () => {
  const closed: Promise<void>[] = [];
  const server = createServer((socket) => {
    closed.push(new Promise((resolve) => socket.on('close', () => resolve())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.3', resolve));
  const { port } = server.address() as AddressInfo;
  const probe = probeFor('127.0.0.3', port);
  await probe.check(AbortSignal.timeout(3000));
  await probe.check(AbortSignal.timeout(3000));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(closed), new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error('the probe left connections open')), 2000)))]);
  clearTimeout(timer);
  assert.equal(closed.length, 2);
  await new Promise((r) => server.close(r));
});

test('connection refused fails with ECONNREFUSED', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  await assert.rejects(probeFor('127.0.0.2', port).check(AbortSignal.timeout(3000)), (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED');
});

test('honours its signal: an aborted check rejects with the abort reason', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as AddressInfo;
  const probe = probeFor('127.0.0.2', port);
  const reason = new Error('timed out');
  await assert.rejects(probe.check(AbortSignal.abort(reason)), (err) => err === reason);
  const controller = new AbortController();
  const pending = probe.check(controller.signal);
  controller.abort(reason);
  await assert.rejects(pending, (err) => err === reason);
  await new Promise((r) => server.close(r));
});
