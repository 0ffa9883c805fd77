export { createProxyServer, type ProxyServer, type ProxyServerDeps, type ProxyServerOptions } from './server.ts';
