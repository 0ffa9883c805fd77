// switchyard's live console (served inline by src/admin/page.ts; plain browser JavaScript, no build step).
// Loads /v1/console, then follows /v1/events (server-sent events); when the event stream fails
// three times in a row it polls /v1/console every second instead. The admin token, when one is
// needed, lives in this script's memory only.
'use strict';
(() => {
  const WINDOW_MS = 15 * 60 * 1000;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => '&#' + c.charCodeAt(0) + ';');
  let view = null;
  let token = null;
  let busy = false;
  const series = new Map(); // "cluster/probe" -> { t: [], ms: [], ok: [], last }

  const time = (iso) => {
    if (!iso) return '';
    const d = new Date(iso);
    return '<time datetime="' + esc(iso) + '" title="' + esc(d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')) + '">' + esc(d.toLocaleString()) + '</time>';
  };
  // ISO times inside a server's message (a banner's "since ..."), shown like every other time.
  const times = (html) => html.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, (iso) => time(iso));
  const dur = (ms) => (ms < 1000 ? Math.round(ms) + ' ms' : ms < 120000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min');

  const bytes = (n) => (n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : n < 1073741824 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB');

  // A cluster's database as the observer last saw it: role; a standby's lag behind the active primary.
  function database(d) {
    if (!d) return '<p class="db" data-role="none">database: none configured</p>';
    let html = '<p class="db" data-role="' + esc(d.role) + '">database: <b class="role-' + esc(d.role) + '">' + esc(d.role) + '</b>';
    if (d.role === 'primary' && d.lsn) html += ' at <span class="code">' + esc(d.lsn) + '</span>';
    if (d.role === 'standby') {
      html += ' · lag <b class="db-lag" data-lag-bytes="' + (d.lagBytes ?? '') + '" data-lag-seconds="' + (d.lagSeconds ?? '') + '">' +
        (d.lagBytes === null ? 'unknown' : bytes(d.lagBytes) + (d.lagSeconds === null ? '' : ', ' + dur(d.lagSeconds * 1000))) + '</b>';
      if (d.receiveLagBytes !== null && d.receiveLagBytes !== d.lagBytes) html += ' (' + bytes(d.receiveLagBytes) + ' not yet received)';
      if (d.replayPaused) html += ' · <b class="bad">replay paused</b>';
      html += d.replication ? ' · ' + esc(d.replication.state) + ', ' + esc(d.replication.syncState) : ' · <span class="unk">not listed by the active primary</span>';
      if (d.sourceAt && d.checkedAt && Date.parse(d.checkedAt) - Date.parse(d.sourceAt) > 5000) html += ' · behind the primary\'s position of ' + time(d.sourceAt);
    }
    if (d.error) html += ' <small class="db-error">' + esc(d.error) + '</small>';
    if (d.checkedAt) html += ' · checked ' + time(d.checkedAt);
    return html + '</p>';
  }

  function addSample(cluster, probe, at, ms, ok) {
    const key = cluster + '/' + probe;
    let s = series.get(key);
    if (!s) { s = { t: [], ms: [], ok: [] }; series.set(key, s); }
    if (s.t.length && at <= s.t[s.t.length - 1]) return;
    s.t.push(at); s.ms.push(ms); s.ok.push(ok);
    const cut = Date.now() - WINDOW_MS;
    while (s.t.length && s.t[0] < cut) { s.t.shift(); s.ms.shift(); s.ok.shift(); }
  }

  function accept(next) {
    view = next;
    for (const c of view.status.clusters) {
      for (const p of c.probes) if (p.checkedAt && p.ok !== null) addSample(c.name, p.name, Date.parse(p.checkedAt), p.latencyMs, p.ok);
    }
    render();
  }

  function chart(cluster, probe) {
    const s = series.get(cluster + '/' + probe);
    const W = 300, H = 48, now = Date.now();
    if (!s || s.t.length === 0) return '<svg class="chart" viewBox="0 0 ' + W + ' ' + H + '"><text x="4" y="28">no samples yet</text></svg>';
    const max = Math.max(1, ...s.ms.filter((v) => v !== null));
    const x = (t) => ((t - (now - WINDOW_MS)) / WINDOW_MS * W).toFixed(1);
    const y = (v) => (H - 2 - (v / max) * (H - 6)).toFixed(1);
    let line = '', fails = '';
    for (let i = 0; i < s.t.length; i++) {
      if (s.ok[i] && s.ms[i] !== null) line += x(s.t[i]) + ',' + y(s.ms[i]) + ' ';
      else fails += '<line x1="' + x(s.t[i]) + '" x2="' + x(s.t[i]) + '" y1="0" y2="' + H + '" class="fail"/>';
    }
    const last = s.ms[s.ms.length - 1];
    return '<svg class="chart" viewBox="0 0 ' + W + ' ' + H + '" role="img" aria-label="latency of ' + esc(probe) + ' over the last 15 minutes, max ' + max.toFixed(1) + ' ms">' +
      fails + '<polyline points="' + line + '"/><text x="' + (W - 4) + '" y="10" text-anchor="end">max ' + max.toFixed(1) + ' ms</text></svg>' +
      '<span class="last">' + (last === null ? '' : last.toFixed(1) + ' ms') + '</span>';
  }

  function renderBanners(s) {
    $('banners').innerHTML = s.attention.map((a) =>
      '<div class="banner ' + esc(a.kind) + '" role="alert" data-kind="' + esc(a.kind) + '">' + (a.code ? '<b class="code">' + esc(a.code) + '</b> ' : '') +
      times(esc(a.message)) + '<div class="todo">What to do: ' + esc(a.todo) + '</div></div>').join('');
  }

  function renderSummary(s) {
    document.title = 'switchyard: ' + s.active + ' ' + s.state;
    $('summary').innerHTML = '<p class="state">Active: <b id="active">' + esc(s.active) + '</b>' + (s.active === s.preferred ? ' (preferred)' : ' (preferred is ' + esc(s.preferred) + ')') +
      ' · state: <b id="state" class="st-' + esc(s.state) + '">' + esc(s.state) + '</b> · epoch ' + s.epoch + ' · generation ' + s.generation +
      ' · automatic failover ' + (s.automatic ? 'on' : 'off') + '</p><p class="reason">' + esc(s.reason) + '</p>' +
      (s.returnHint ? '<p class="hint">' + esc(s.returnHint) + '</p>' : '') + parityLine(s.parity);
  }

  // The last periodic parity comparison: one line per compared pair, or why parity is unknown.
  function parityLine(p) {
    if (!p) return '';
    const checked = p.checkedAt ? ' · checked ' + time(p.checkedAt) : '';
    if (p.error) return '<p id="parity" class="parity" data-parity="unknown">parity: <span class="bad">unknown</span> <small>' + esc(p.error) + '</small>' + checked + '</p>';
    if (!p.checkedAt) return '<p id="parity" class="parity" data-parity="pending">parity: <span class="unk">not compared yet</span></p>';
    return '<p id="parity" class="parity" data-parity="' + (p.reports.some((r) => r.blocking) ? 'blocking' : p.reports.some((r) => r.differences.length) ? 'drift' : 'same') + '">' + p.reports.map((r) => {
      const head = 'parity ' + esc(r.clusters[0]) + ' ↔ ' + esc(r.clusters[1]) + ': ';
      if (r.differences.length === 0) return head + '<span class="ok">no differences</span>';
      const blocking = r.differences.filter((d) => d.blocking).length;
      return head + '<span class="' + (blocking ? 'bad' : 'unk') + '">' + r.differences.length + ' difference(s), ' + blocking + ' blocking</span> <small>' +
        r.differences.map((d) => esc(d.kind + ' ' + d.object + ' (' + Object.keys(d.values).map((c) => c + ' ' + d.values[c]).join(', ') + ')')).join('; ') + '</small>';
    }).join('<br>') + checked + '</p>';
  }

  function renderInstances(s) {
    const co = s.coordination;
    if (!co) { $('instances').innerHTML = ''; return; }
    const rows = co.observations.map((o) => '<tr data-instance="' + esc(o.instance) + '"><td>' + esc(o.instance) + (o.instance === s.instance ? ' <span class="tag">this</span>' : '') +
      (co.leader && co.leader.name === o.instance ? ' <span class="tag">leader</span>' : '') + '</td><td>' +
      Object.keys(o.verdicts).map((c) => esc(c) + ' ' + (o.verdicts[c] === null ? '<span class="unk">unknown</span>' : o.verdicts[c] ? '<span class="ok">up</span>' : '<span class="bad">down</span>')).join(', ') +
      '</td><td>' + o.ageSeconds.toFixed(1) + ' s' + (o.fresh ? '' : ' <span class="bad">stale</span>') + '</td></tr>').join('');
    $('instances').innerHTML = '<h2>Instances</h2><p id="coordination">This instance: <b>' + esc(s.instance) + '</b>' + (co.leading ? ' (leader, term ' + co.term + ')' : '') +
      ' · leader: <b id="leader">' + (co.leader ? esc(co.leader.name) + '</b> (term ' + co.leader.term + ')' : 'none known</b>') +
      ' · store: ' + (co.storeReachable ? '<span class="ok">reachable</span>' : '<span class="bad">unreachable</span> since ' + time(co.unreachableSince) + ' <small>' + esc(co.storeError) + '</small>') +
      ' · DNS TTL ' + co.answerTtl + ' s · quorum ' + co.quorum + ' of ' + co.instances + '</p>' +
      '<table class="observations"><tr><th>instance</th><th>sees</th><th>observation age</th></tr>' + rows + '</table>';
  }

  function renderClusters(s) {
    $('clusters').innerHTML = '<h2>Clusters</h2>' + s.clusters.map((c) => {
      const h = c.healthy === null ? '<span class="unk">unknown</span>' : c.healthy ? '<span class="ok">healthy</span>' : '<span class="bad">down</span>';
      const probes = c.probes.filter((p) => p.name !== 'passive' || p.ok !== null).map((p) => '<tr><td>' + esc(p.name) + '</td><td>' + (p.ok === null ? '<span class="unk">pending</span>' : p.ok ? '<span class="ok">ok</span>' : '<span class="bad">FAIL</span>') +
        (p.error ? ' <small>' + esc(p.error) + '</small>' : '') + '</td><td>' + time(p.checkedAt) + '</td><td class="nowrap">' + chart(c.name, p.name) + '</td></tr>').join('');
      return '<article class="cluster' + (c.active ? ' active' : '') + '" data-cluster="' + esc(c.name) + '"><h3>' + esc(c.name) + (c.active ? ' <span class="tag">active</span>' : '') +
        (c.name === s.preferred ? ' <span class="tag pref">preferred</span>' : '') + ' ' + h + '</h3>' +
        '<p>addresses ' + esc(c.addresses.join(', ')) + (c.since ? ' · verdict since ' + time(c.since) : '') + '</p>' + database(c.database) +
        '<table class="probes"><tr><th>probe</th><th>result</th><th>checked</th><th>latency, last 15 min</th></tr>' + probes + '</table></article>';
    }).join('');
  }

  function steps(t) {
    const by = new Map();
    for (const e of t.journal) {
      let s = by.get(e.step);
      if (!s) { s = { step: e.step, start: Date.parse(e.at), end: Date.parse(e.at), attempts: 0, phase: e.phase, error: null, detail: null }; by.set(e.step, s); }
      if (e.phase === 'started') s.attempts++;
      s.end = Date.parse(e.at); s.phase = e.phase; s.error = e.error ?? s.error; s.detail = e.detail ?? s.detail;
    }
    return [...by.values()];
  }

  function move(t, current) {
    const total = (t.finishedAt ? Date.parse(t.finishedAt) : Date.now()) - Date.parse(t.startedAt);
    const rows = steps(t).map((s) => '<tr class="ph-' + esc(s.phase) + '"><td>' + esc(s.step) + '</td><td>' + esc(s.phase) + (s.attempts > 1 ? ' (' + s.attempts + ' attempts)' : '') + '</td><td>' + dur(s.end - s.start) +
      '</td><td>' + esc(s.error ?? s.detail ?? '') + '</td></tr>').join('');
    const entries = t.journal.map((e) => '<li>' + time(e.at) + ' ' + esc(e.step) + ' ' + esc(e.phase) + (e.attempt > 1 ? ' (attempt ' + e.attempt + ')' : '') + (e.error ? ': ' + esc(e.error) : e.detail ? ': ' + esc(e.detail) : '') + '</li>').join('');
    return '<article class="move' + (current ? ' current' : '') + '"><h3>' + esc(t.kind) + ' ' + esc(t.from) + ' → ' + esc(t.to) + ' <small>epoch ' + t.epoch + (t.forced ? ', forced' : '') + '</small></h3>' +
      '<p>' + esc(t.reason) + '<br>started ' + time(t.startedAt) + (t.finishedAt ? ', finished ' + time(t.finishedAt) + ' (' + esc(t.outcome) + ')' : ', <b>' + (t.outcome === 'held' ? 'held' : 'in progress') + '</b>') + ' · ' + dur(total) + '</p>' +
      (rows ? '<table class="steps"><tr><th>step</th><th>outcome</th><th>duration</th><th>detail</th></tr>' + rows + '</table>' : '') +
      '<details><summary>journal (' + t.journal.length + ' entries)</summary><ol>' + entries + '</ol></details></article>';
  }

  function renderTimeline(v) {
    const t = v.status.lastTransition;
    $('timeline').innerHTML = '<h2>Transitions</h2>' + (t ? move(t, true) : '<p>none yet</p>') + (v.previousMoves || []).map((m) => move(m, false)).join('');
  }

  function renderActions(s) {
    if (!view.actions) { $('actions').innerHTML = '<p><small>the failover controller is not running: no actions</small></p>'; return; }
    if (s.coordination && !s.coordination.leading) {
      const l = s.coordination.leader;
      $('actions').innerHTML = '<p class="hint" id="follower">This instance follows: moves are made by the leader' + (l ? ', <b>' + esc(l.name) + '</b> (term ' + l.term + '); open its status page' : '; none is known right now') + '.</p>';
      return;
    }
    const moving = s.state === 'failing-over' || s.state === 'failing-back';
    const others = s.clusters.filter((c) => !c.active);
    const active = s.clusters.find((c) => c.active);
    let html = '';
    for (const c of others) if (c.name !== s.preferred) html += '<button data-action="failover" data-to="' + esc(c.name) + '">Fail over to ' + esc(c.name) + '</button> ';
    if (s.active !== s.preferred) html += '<button data-action="failback">Fail back to ' + esc(s.preferred) + '</button> ';
    if (others.length && active && active.healthy) html += '<button data-action="drill" data-to="' + esc(others[0].name) + '">Drill: switch over to ' + esc(others[0].name) + '</button>';
    $('actions').innerHTML = html;
    for (const b of $('actions').querySelectorAll('button')) {
      b.disabled = moving || busy;
      b.onclick = () => act(b.dataset.action, b.dataset.to);
    }
  }

  function render() {
    if (!view) return;
    renderBanners(view.status);
    renderSummary(view.status);
    renderActions(view.status);
    renderInstances(view.status);
    renderClusters(view.status);
    renderTimeline(view);
  }

  function dialog(el) {
    return new Promise((resolve) => {
      el.addEventListener('close', () => resolve(el.returnValue), { once: true });
      el.returnValue = '';
      el.showModal();
    });
  }

  async function askToken() {
    $('token-input').value = '';
    const r = await dialog($('token'));
    if (r !== 'ok' || !$('token-input').value) return false;
    token = $('token-input').value;
    return true;
  }

  async function call(path, body) {
    for (let round = 0; round < 2; round++) {
      if (view.tokenRequired && token === null && !(await askToken())) return { cancelled: true };
      const headers = { 'content-type': 'application/json', accept: 'application/json' };
      if (token !== null) headers.authorization = 'Bearer ' + token;
      const res = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
      const json = await res.json().catch(() => ({}));
      if (res.status === 401 && round === 0) { token = null; if (!(await askToken())) return { cancelled: true }; continue; }
      return { ok: res.ok, status: res.status, json };
    }
    return { cancelled: true };
  }

  function showResult(cls, html) { $('result').className = 'result ' + cls; $('result').innerHTML = html; }
  const errorHtml = (r) => '<b class="code">' + esc(r.json.error?.code ?? 'HTTP ' + r.status) + '</b> ' + esc(r.json.error?.message ?? '');

  function planHtml(p, label) {
    const rows = p.steps.map((s) => '<tr class="pc-' + esc(s.precheck) + '"><td>' + esc(s.name) + '</td><td>' + esc(s.does) + '</td><td>' + esc(s.precheck) + (s.detail ? ': ' + esc(s.detail) : '') + '</td></tr>').join('');
    return '<h2>' + esc(label) + '</h2><p id="plan-message">' + esc(p.message) + '</p>' +
      '<p>Target ' + esc(p.to) + ' is ' + (p.targetHealthy === null ? 'of unknown health' : p.targetHealthy ? 'healthy' : '<b class="bad">down</b>') + '.</p>' +
      '<table class="plan"><tr><th>step</th><th>what it will do</th><th>precheck</th></tr>' + rows + '</table>' +
      (p.failures.length ? '<ul class="failures">' + p.failures.map((f) => '<li>' + esc(f) + '</li>').join('') + '</ul><p><label><input type="checkbox" id="force"> force: move despite the failed prechecks (break glass)</label></p>' : '');
  }

  async function act(action, to) {
    if (busy) return;
    busy = true; render();
    try {
      const path = action === 'failback' ? '/v1/failback' : '/v1/failover';
      const reason = action === 'drill' ? 'drill from the status page' : action + ' from the status page';
      const base = action === 'failback' ? { reason } : { to, reason };
      const plan = await call(path, { ...base, dryRun: true });
      if (plan.cancelled) { showResult('info', 'cancelled: nothing was asked'); return; }
      if (!plan.ok) { showResult('error', 'dry run refused: ' + errorHtml(plan)); return; }
      const p = plan.json;
      const label = (action === 'drill' ? 'Drill: ' : '') + (p.resumes ? 'Resume the held ' : '') + p.kind + ' ' + p.from + ' → ' + p.to;
      $('confirm-body').innerHTML = planHtml(p, label);
      const ok = $('confirm-ok');
      ok.textContent = 'Confirm: ' + p.kind + ' to ' + p.to;
      ok.disabled = !p.wouldProceed;
      const force = $('force');
      if (force) force.onchange = () => { ok.disabled = !force.checked; };
      if ((await dialog($('confirm'))) !== 'ok') { showResult('info', 'cancelled: nothing moved'); return; }
      showResult('info', 'running ' + esc(label) + '…');
      const started = Date.now();
      const r = await call(path, { ...base, force: !!(force && force.checked) });
      if (r.cancelled) { showResult('info', 'cancelled: nothing moved'); return; }
      if (!r.ok) { showResult('error', esc(label) + ' failed: ' + errorHtml(r)); return; }
      let html = '<b>done</b>: ' + esc(r.json.message) + ' (' + dur(Date.now() - started) + ')';
      if (action === 'drill' && r.json.transition) {
        html += '<table class="steps"><tr><th>step</th><th>duration</th></tr>' + steps(r.json.transition).map((s) => '<tr><td>' + esc(s.step) + '</td><td>' + dur(s.end - s.start) + '</td></tr>').join('') + '</table>';
      }
      showResult('ok', html);
    } catch (err) {
      showResult('error', 'request failed: ' + esc(err && err.message));
    } finally {
      busy = false; render();
    }
  }

  let pollTimer = null;
  function poll() {
    $('conn').textContent = 'polling every second';
    $('conn').className = 'conn polling';
    const once = () => fetch('/v1/console', { cache: 'no-store' }).then((r) => r.json()).then(accept, () => { $('conn').textContent = 'admin API unreachable; retrying'; });
    once();
    pollTimer = setInterval(once, 1000);
  }

  function follow() {
    if (typeof EventSource !== 'function') { poll(); return; }
    const es = new EventSource('/v1/events');
    let failures = 0;
    es.addEventListener('console', (e) => { failures = 0; accept(JSON.parse(e.data)); });
    es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn live'; };
    es.onerror = () => {
      failures++;
      $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn';
      if (failures >= 3 || es.readyState === EventSource.CLOSED) { es.close(); poll(); }
    };
  }

  fetch('/v1/console', { cache: 'no-store' }).then((r) => r.json()).then((v) => {
    for (const s of v.history.probes) for (let i = 0; i < s.t.length; i++) addSample(s.cluster, s.probe, s.t[i], s.ms[i], s.ok[i]);
    accept(v);
    if (location.hash === '#poll') poll(); else follow();
  }, () => { poll(); });
  setInterval(render, 5000); // the charts' time axis moves even when nothing changes
  window.switchyardConsole = { mode: () => (pollTimer ? 'polling' : 'events') };
})();
