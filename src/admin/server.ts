// Admin HTTP API: liveness, readiness, Prometheus metrics, status (JSON and page), and the
// mutating calls (failover, failback) behind a bearer token.
import type { FastifyReply } from 'fastify';
import { Counter, type Registry } from '../prom-client-parts.ts';
import type { AdminConfig } from '../config/index.ts';
import { SwitchyardError, isSwitchyardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createConsoleFeed, registerConsoleRoutes } from './console.ts';
import { crossSiteReason, hostAllowed, isJsonContentType, tokenMatches } from './guard.ts';
import { loadConsoleAssets, renderStatusPage } from './page.ts';
import type { StatusView } from './status.ts';
import { requirePackage } from '../packages.ts';

const { fastify, LogController } = requirePackage('fastify') as typeof import('fastify');

export interface TransitionRequest { to?: string; reason: string; force: boolean; dryRun?: boolean }

export interface AdminActions {
  failover(req: TransitionRequest & { to: string }): Promise<unknown>;
  failback(req: TransitionRequest): Promise<unknown>;
  /** The dry run of either: every precheck, the plan, nothing moved. */
  plan(req: TransitionRequest & { kind: 'manual' | 'failback' }): Promise<unknown>;
}

export interface AdminDeps {
  logger: Logger;
  registry: Registry;
  status: () => StatusView;
  ready: () => boolean;
  actions: AdminActions | undefined;
}

export interface AdminServer { start(): Promise<void>; close(): Promise<void>; address(): { address: string; port: number } }

/** HTTP status for an error: its code's, from the catalogue (src/errors.ts). */
export const httpStatusFor = (err: SwitchyardError): number => err.statusCode;

function readBody(body: unknown, needTo: boolean): TransitionRequest & { to?: string } {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b !== 'object' || Array.isArray(b)) throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', 'the body must be a JSON object');
  const known = ['to', 'reason', 'force', 'dryRun'];
  const unknown = Object.keys(b).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', `unknown field ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`);
  if (needTo && (typeof b.to !== 'string' || b.to === '')) throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', "'to' is required: the name of the cluster to move traffic to");
  if (!needTo && b.to !== undefined) throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', "'to' is not accepted by failback: it always returns to the preferred cluster");
  if (b.reason !== undefined && (typeof b.reason !== 'string' || b.reason.length > 500)) throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', "'reason' must be a string of at most 500 characters");
  if (b.force !== undefined && typeof b.force !== 'boolean') throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', "'force' must be true or false");
  if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean') throw new SwitchyardError('SWY_ADMIN_BAD_REQUEST', "'dryRun' must be true or false");
  return { to: b.to as string | undefined, reason: (b.reason as string | undefined) ?? '', force: b.force === true, dryRun: b.dryRun === true };
}

/**
 * Connections the admin API holds at once; more are closed at accept (Node's maxConnections), so a
 * flood of the admin port stays inside limits.reservedFileDescriptors and cannot starve probes.
 */
export const ADMIN_MAX_CONNECTIONS = 64;

function noSchemaCompilers(): never {
  throw new Error('admin routes declare no schemas: fastify\'s schema compilers are not loaded (src/admin/server.ts)');
}

export function createAdminServer(options: { admin: AdminConfig }, deps: AdminDeps): AdminServer {
  const { admin } = options;
  const log = deps.logger.child({ module: 'admin' });
  const app = fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // No route declares a schema (bodies are checked by hand), so fastify's default schema
    // compilers (ajv, ajv-formats and fast-json-stringify's compiler) need never be loaded. A schema added to a route fails at start with this message rather than silently.
    schemaController: { compilersFactory: { buildValidator: noSchemaCompilers, buildSerializer: noSchemaCompilers } },
  });
  app.server.maxConnections = ADMIN_MAX_CONNECTIONS;
  const dropped = new Counter({ name: 'switchyard_admin_connections_dropped_total', help: `Admin API connections closed at accept because ${ADMIN_MAX_CONNECTIONS} were open`, registers: [deps.registry] });
  app.server.on('drop', () => dropped.inc());

  const sendError = (reply: FastifyReply, status: number, code: string, message: string) =>
    reply.code(status).header('cache-control', 'no-store').send({ error: { code, message } });

  app.setErrorHandler((err: unknown, _req, reply) => {
    if (isSwitchyardError(err)) return sendError(reply, httpStatusFor(err), err.code, err.message);
    const e = err as { statusCode?: number; code?: string; message?: string };
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, e.statusCode, 'SWY_ADMIN_BAD_REQUEST', e.message ?? 'bad request');
    }
    log.error({ err }, 'admin request failed');
    return sendError(reply, 500, 'SWY_ADMIN_UNAVAILABLE', 'internal error; see the switchyard log');
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'SWY_ADMIN_NOT_FOUND', `no route ${req.method} ${req.url}`));

  const allowedHosts = new Set(admin.allowedHosts);
  const token = admin.token;
  const UNAUTHORIZED = 'this call needs the admin bearer token (Authorization: Bearer $SWITCHYARD_ADMIN_TOKEN)';
  // Every request but liveness/readiness (which reveal nothing and come from kubelets) passes
  // the browser defences before its body is parsed; a request with the right token is not a
  // browser's (a page cannot know the token, nor send Authorization cross-site without CORS).
  app.addHook('onRequest', async (req, reply) => {
    // Clickjacking: another site's page must not frame the console and have the operator click
    // its buttons (the framed page's POSTs would be same-origin and pass every check below).
    reply.header('x-frame-options', 'DENY').header('content-security-policy', "frame-ancestors 'none'");
    const path = req.url.split('?', 1)[0];
    if (path === '/healthz' || path === '/readyz') return;
    const authed = token !== undefined && tokenMatches(req.headers.authorization, token);
    if (!authed && !hostAllowed(req.headers.host, allowedHosts)) {
      throw new SwitchyardError('SWY_ADMIN_HOST_REJECTED', `Host ${JSON.stringify(req.headers.host ?? '')} is not an address of this admin API nor in admin.allowedHosts (DNS rebinding defence)`);
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (token !== undefined && !admin.openReads && !authed) throw new SwitchyardError('SWY_ADMIN_UNAUTHORIZED', `${UNAUTHORIZED}; reads need it too (admin.openReads is false)`);
      return;
    }
    const crossSite = crossSiteReason(req.headers as { origin?: string; 'sec-fetch-site'?: string; host?: string });
    if (crossSite !== undefined) throw new SwitchyardError('SWY_ADMIN_CROSS_SITE', `refused a request from another site's page (${crossSite})`);
    if (!isJsonContentType(req.headers['content-type'])) {
      throw new SwitchyardError('SWY_ADMIN_CONTENT_TYPE', `mutating calls need Content-Type: application/json (got ${JSON.stringify(req.headers['content-type'] ?? '')})`);
    }
    if (token !== undefined && !authed) throw new SwitchyardError('SWY_ADMIN_UNAUTHORIZED', UNAUTHORIZED);
  });
  const needActions = (): AdminActions => {
    if (!deps.actions) throw new SwitchyardError('SWY_ADMIN_UNAVAILABLE', 'the failover controller is not running');
    return deps.actions;
  };

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => (deps.ready() ? { status: 'ready' } : reply.code(503).send({ status: 'not ready' })));
  app.get('/metrics', async (_req, reply) => reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics()));
  app.get('/v1/status', async (_req, reply) => reply.header('cache-control', 'no-store').send(deps.status()));
  const assets = loadConsoleAssets();
  const consoleView = () => ({ status: deps.status(), previousMoves: [], tokenRequired: admin.token !== undefined, actions: deps.actions !== undefined });
  registerConsoleRoutes(app, { view: consoleView, feed: createConsoleFeed() });
  app.get('/', async (_req, reply) => reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(renderStatusPage(consoleView(), assets)));
  app.post('/v1/failover', async (req) => {
    const body = readBody(req.body, true);
    if (body.dryRun) return needActions().plan({ ...body, kind: 'manual' });
    return needActions().failover({ ...body, to: body.to! });
  });
  app.post('/v1/failback', async (req) => {
    const body = readBody(req.body, false);
    return body.dryRun ? needActions().plan({ ...body, kind: 'failback' }) : needActions().failback(body);
  });

  return {
    async start() {
      try {
        await app.listen({ host: admin.listen.host, port: admin.listen.port });
      } catch (err) {
        throw new SwitchyardError('SWY_LISTEN_FAILED', `admin cannot listen on ${admin.listen.host}:${admin.listen.port}: ${(err as Error).message}`, { listen: admin.listen }, { cause: err });
      }
    },
    close: () => app.close(),
    address() {
      const a = app.server.address();
      return typeof a === 'object' && a ? { address: a.address, port: a.port } : { address: admin.listen.host, port: admin.listen.port };
    },
  };
}
