// The status page: a live console. The server sends one HTML page with its script and styles
// inline (no build step, no framework, no other assets); the script loads /v1/console, then
// follows /v1/events (server-sent events), falling back to polling /v1/console every second.
// Without scripts the page shows the server-rendered table below and refreshes every 2 s.
import { fs } from '../node-builtins.ts';
import type { ConsoleView } from './console.ts';
import { parityLines } from './status.ts';

const { readFileSync } = fs;

export interface ConsoleAssets { script: string; style: string }

/** Reads the console's script and styles (src/admin/console/), once per admin server. */
export function loadConsoleAssets(): ConsoleAssets {
  const read = (name: string) => readFileSync(new URL(`./console/${name}`, import.meta.url), 'utf8');
  return { script: read('console.js'), style: read('console.css') };
}

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const database = (d: ConsoleView['status']['clusters'][number]['database']): string => (d === null ? 'none'
  : `${esc(d.role)}${d.role === 'standby' ? `, lag ${d.lagBytes === null ? 'unknown' : `${d.lagBytes} bytes${d.lagSeconds === null ? '' : `, ${d.lagSeconds.toFixed(1)} s`}`}` : ''}${d.error ? ` (${esc(d.error)})` : ''}`);
const health = (h: boolean | null): string => (h === null ? '<span class="unk">unknown</span>' : h ? '<span class="ok">healthy</span>' : '<span class="bad">down</span>');

function staticTable(v: ConsoleView): string {
  const s = v.status;
  const rows = s.clusters.map((c) => `<tr><td>${esc(c.name)}${c.active ? ' <b>(active)</b>' : ''}</td><td>${health(c.healthy)}</td><td>${esc(c.addresses.join(', '))}</td><td>${database(c.database)}</td>
    <td>${c.probes.map((p) => `${esc(p.name)}: ${p.ok === null ? 'pending' : p.ok ? 'ok' : 'FAIL'}${p.latencyMs === null ? '' : ` ${p.latencyMs.toFixed(1)} ms`}${p.error ? ` (${esc(p.error)})` : ''}`).join('<br>')}</td></tr>`).join('');
  const banners = s.attention.map((a) => `<p class="banner">${a.code ? `<b>${esc(a.code)}</b> ` : ''}${esc(a.message)}: ${esc(a.todo)}</p>`).join('');
  const parity = s.parity ? parityLines(s.parity).map((line) => `<p>${esc(line)}</p>`).join('') : '';
  return `${banners}<p>Active: <b>${esc(s.active)}</b>, state: <b>${esc(s.state)}</b>, epoch ${s.epoch}: ${esc(s.reason)}</p>${parity}
<table><tr><th>cluster</th><th>health</th><th>addresses</th><th>database</th><th>probes</th></tr>${rows}</table>`;
}

export function renderStatusPage(v: ConsoleView, assets: ConsoleAssets): string {
  const s = v.status;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<noscript><meta http-equiv="refresh" content="2"></noscript>
<title>switchyard: ${esc(s.active)} ${esc(s.state)}</title>
<style>${assets.style}</style></head>
<body>
<header><h1>switchyard</h1><span id="conn" class="conn">connecting…</span></header>
<div id="banners" aria-live="assertive"></div>
<noscript>${staticTable(v)}</noscript>
<section id="summary" aria-live="polite"></section>
<section id="actions"></section>
<div id="result" aria-live="polite"></div>
<section id="instances"></section>
<section id="clusters"></section>
<section id="timeline"></section>
<footer><a href="/v1/status">/v1/status</a> · <a href="/metrics">/metrics</a> · times in your browser's time zone; hover for UTC</footer>
<dialog id="confirm"><form method="dialog" id="confirm-form"><div id="confirm-body"></div>
  <p class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok" class="danger">Confirm</button></p></form></dialog>
<dialog id="token"><form method="dialog" id="token-form"><p>This switchyard needs the admin token for that. It is kept in this page's memory only (gone on reload).</p>
  <p><label>Admin token <input type="password" id="token-input" autocomplete="off" required></label></p>
  <p class="buttons"><button value="cancel" formnovalidate>Cancel</button> <button value="ok" id="token-ok">Use token</button></p></form></dialog>
<script>${assets.script.replace(/<\/(script)/gi, '<\\/$1')}</script>
</body></html>`;
}
