export { createProxyServer, type ProxyServer, type ProxyServerDeps, type ProxyServerOptions } from './server.ts';
export { createProxyWorkers, proxyShare, type ProxyWorkers, type ProxyWorkersDeps } from './workers.ts';
