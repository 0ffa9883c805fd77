// Config files of the processes in the proxy benchmark. Every peer proxy is configured like
// switchyard: east active, west backup, keep-alive to the origin, X-Forwarded-For added,
// a refused connection retried on the backup; one worker/thread, no access log.

export interface Addr { host: string; port: number }

const nginxCommon = (dir: string, user: string) => `
worker_processes 1;
daemon off;
${user}
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; multi_accept on; }
`;

const nginxTemp = (dir: string) => `
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  access_log off;
`;

const userLine = () => (process.getuid?.() === 0 ? 'user root;' : '');

/** The origin: nginx answering a small static body from memory (no disk, no logging). */
export function nginxOrigin(dir: string, listen: Addr, name: string): string {
  return `${nginxCommon(dir, userLine())}
http {
${nginxTemp(dir)}
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  server {
    listen ${listen.host}:${listen.port} reuseport backlog=4096;
    location / { default_type text/plain; return 200 "hello from ${name}\\n"; }
  }
}
`;
}

export function nginxProxy(dir: string, listen: Addr, east: Addr, west: Addr): string {
  return `${nginxCommon(dir, userLine())}
http {
${nginxTemp(dir)}
  keepalive_requests 1000000;
  upstream app {
    server ${east.host}:${east.port} max_fails=1 fail_timeout=10s;
    server ${west.host}:${west.port} backup;
    keepalive 256;
  }
  server {
    listen ${listen.host}:${listen.port} backlog=4096;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout;
      proxy_connect_timeout 2s;
    }
  }
}
`;
}

export function haproxy(listen: Addr, east: Addr, west: Addr): string {
  return `global
  nbthread 1
  maxconn 4096

defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  option forwardfor
  retries 1
  option redispatch 1
  retry-on conn-failure empty-response

frontend fe
  bind ${listen.host}:${listen.port}
  default_backend app

backend app
  http-reuse always
  server east ${east.host}:${east.port} check inter 1s fall 1
  server west ${west.host}:${west.port} check inter 1s backup
`;
}
