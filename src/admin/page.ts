// The status page: one server-rendered screen that refreshes itself. No scripts, no assets.
import type { StatusView } from './status.ts';

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const health = (h: boolean | null): string => (h === null ? '<span class="unk">unknown</span>' : h ? '<span class="ok">healthy</span>' : '<span class="bad">down</span>');

export function renderStatusPage(s: StatusView): string {
  const clusters = s.clusters.map((c) => `
    <tr><td>${esc(c.name)}${c.active ? ' <b>(active)</b>' : ''}${c.name === s.preferred ? ' (preferred)' : ''}</td><td>${health(c.healthy)}</td>
      <td>${esc(c.addresses.join(', '))}</td>
      <td>${c.probes.map((p) => `${esc(p.name)}: ${p.ok === null ? 'pending' : p.ok ? 'ok' : 'FAIL'}${p.latencyMs === null ? '' : ` ${p.latencyMs.toFixed(1)} ms`}${p.error ? ` (${esc(p.error)})` : ''}`).join('<br>')}</td></tr>`).join('');
  const t = s.lastTransition;
  const journal = t ? t.journal.map((e) => `<li>${esc(e.at)} ${esc(e.step)} ${esc(e.phase)}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}${e.error ? `: ${esc(e.error)}` : ''}${e.detail ? ` (${esc(e.detail)})` : ''}</li>`).join('') : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>switchyard: ${esc(s.active)} ${esc(s.state)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.ok{color:#060}.bad{color:#b00;font-weight:bold}.unk{color:#777}.state{font-size:1.4em}</style></head>
<body><h1>switchyard</h1>
<p class="state">Active: <b>${esc(s.active)}</b> &middot; state: <b>${esc(s.state)}</b> &middot; generation ${s.generation} &middot; epoch ${s.epoch} &middot; automatic failover ${s.automatic ? 'on' : 'off'}</p>
<p>${esc(s.reason)}</p>
<table><tr><th>cluster</th><th>health</th><th>addresses</th><th>probes</th></tr>${clusters}</table>
<h2>Last transition</h2>
${t ? `<p>${esc(t.kind)} ${esc(t.from)} &rarr; ${esc(t.to)} (epoch ${t.epoch}${t.forced ? ', forced' : ''}): ${esc(t.reason)}; started ${esc(t.startedAt)}${t.finishedAt ? `, finished ${esc(t.finishedAt)} (${esc(t.outcome)})` : ', in progress'}</p><ol>${journal}</ol>` : '<p>none</p>'}
<p><small>updated ${esc(s.updatedAt)} &middot; <a href="/v1/status">/v1/status</a> &middot; <a href="/metrics">/metrics</a></small></p>
</body></html>`;
}
