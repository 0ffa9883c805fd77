// The parts of undici the serving process uses: the pool, the agent (the etcd client's), the
// connector and the request API, loaded from undici's own files. undici's index loads every part it
// has (fetch, WebSocket, caches, mocks, proxy agents): about 14 MiB of a running switchyard, for
// nothing it uses (docs/benchmarks.md, "Memory"); only src/kubernetes.ts, loaded with the
// Kubernetes client, takes undici's fetch from the index. The classes are undici's own, so its types describe them.
import type * as Undici from 'undici';
import { requirePackage as require } from './packages.ts';

export const Pool: typeof Undici.Pool = require('undici/lib/dispatcher/pool.js');
export type Pool = Undici.Pool;
export const Agent: typeof Undici.Agent = require('undici/lib/dispatcher/agent.js');
export type Agent = Undici.Agent;
export const buildConnector: typeof Undici.buildConnector = require('undici/lib/core/connect.js');
export type Connector = Undici.buildConnector.connector;

const apiRequest: (this: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions) => Promise<Undici.Dispatcher.ResponseData> = require('undici/lib/api/api-request.js');

/** `dispatcher.request(options)` without undici's index (which adds request to every dispatcher). */
export function request(dispatcher: Undici.Dispatcher, options: Undici.Dispatcher.RequestOptions): Promise<Undici.Dispatcher.ResponseData> {
  return apiRequest.call(dispatcher, options);
}
