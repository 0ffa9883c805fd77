// A webhook receiver on 127.0.0.1 for whole-process tests of the notify list and webhook steps:
// keeps every request body (parsed JSON, or { unparsable: text }) and answers `status` (200 unless
// a test changes it). close() ends it and its connections.
import { createServer, type Server } from 'node:http';

export interface WebhookReceiver {
  url: string;
  bodies: Array<Record<string, unknown>>;
  status: number;
  server: Server;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const r: WebhookReceiver = {
    url: '',
    bodies: [],
    status: 200,
    server: createServer((req, res) => {
      let text = '';
      req.on('data', (c) => { text += c; });
      req.on('end', () => {
        try { r.bodies.push(JSON.parse(text)); } catch { r.bodies.push({ unparsable: text }); }
        res.writeHead(r.status).end();
      });
    }),
    close: () => new Promise((res) => { r.server.closeAllConnections(); r.server.close(() => res()); }),
  };
  await new Promise<void>((res) => r.server.listen(0, '127.0.0.1', res));
  r.url = `http://127.0.0.1:${(r.server.address() as { port: number }).port}/hook`;
  return r;
}
