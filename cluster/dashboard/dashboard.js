/*
 * The dashboard's script: plain JavaScript, no dependencies, nothing fetched from anywhere but
 * the node that served the page. Every second it asks GET /admin/overview (the serving node asks
 * every other node; cluster/api-dashboard.ts) and redraws: the shards with their nodes (role,
 * health, term, position, lag, in-sync, size, throughput and latency), the control plane, spare
 * nodes, a migration under way, and the recent events (elections, handovers, catch-ups, …).
 *
 * Throughput and latency come from each node's running totals of data requests
 * (`state.requests`): the difference between two samples a few seconds apart.
 *
 * The token: a cluster with `cluster.token` answers 401 until the page sends it. The page then
 * asks for it, keeps it in sessionStorage (this tab only) and sends it as a bearer token.
 * Everything drawn from the cluster's data goes through textContent, never as HTML.
 */
'use strict';
(() => {
  const REFRESH_MS = 1000;
  const RATE_WINDOW_MS = 5000;
  const SAMPLES_MAX = 120;
  const TOKEN_KEY = 'distribkv-token';
  /** Per node, recent samples of its request totals: {t, count, counts}. */
  const samples = new Map();

  const $ = (id) => document.getElementById(id);

  /** An element with attributes (data-*, class, …) and children (nodes or text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== undefined && value !== null) node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function bytes(n) {
    if (typeof n !== 'number') return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
  }

  function duration(ms) {
    if (typeof ms !== 'number') return '';
    const s = Math.floor(ms / 1000);
    if (s < 120) return `${s}s`;
    if (s < 7200) return `${Math.floor(s / 60)}m`;
    if (s < 172800) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    return `${Math.floor(s / 86400)}d`;
  }

  function millis(seconds) {
    if (seconds === undefined) return '';
    if (!Number.isFinite(seconds)) return '> 10 s';
    return seconds < 0.001 ? `≤ ${Math.round(seconds * 1e6)} µs` : `≤ ${+(seconds * 1000).toPrecision(3)} ms`;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }

  // ---- Fetching ------------------------------------------------------------------------

  async function refresh() {
    const token = sessionStorage.getItem(TOKEN_KEY);
    let res;
    try {
      res = await fetch('/admin/overview', { headers: token ? { Authorization: `Bearer ${token}` } : {}, cache: 'no-store' });
    } catch (error) {
      problem(`this node does not answer (${error.message}); retrying`);
      return;
    }
    if (res.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      $('token-form').hidden = false;
      problem(token ? 'the token was refused; enter the cluster token' : 'enter the cluster token to see its state');
      return;
    }
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      problem(`GET /admin/overview answered ${res.status} ${body.code || ''} ${body.message || ''}`);
      return;
    }
    $('token-form').hidden = true;
    problem(undefined);
    render(await res.json());
  }

  function problem(text) {
    $('problem').hidden = !text;
    $('problem').textContent = text || '';
  }

  // ---- Rates from samples ----------------------------------------------------------------

  function sample(view, t) {
    const r = view.state && view.state.requests;
    if (!r) return;
    let list = samples.get(view.address);
    if (!list) samples.set(view.address, (list = []));
    const last = list[list.length - 1];
    // A restarted node starts counting again from zero.
    if (last && r.count < last.count) list.length = 0;
    list.push({ t, count: r.count, counts: r.counts, bounds: r.bounds });
    if (list.length > SAMPLES_MAX) list.shift();
  }

  /** Requests per second and latency quantiles over the last RATE_WINDOW_MS, and req/s per sample for the sparkline. */
  function rates(address) {
    const list = samples.get(address) || [];
    if (list.length < 2) return { perSecond: undefined, p50: undefined, p99: undefined, series: [] };
    const now = list[list.length - 1];
    let i = list.length - 2;
    while (i > 0 && now.t - list[i].t < RATE_WINDOW_MS) i--;
    const then = list[i];
    const seconds = (now.t - then.t) / 1000;
    const deltas = now.counts.map((c, k) => c - (then.counts[k] || 0));
    const total = deltas.reduce((a, b) => a + b, 0);
    const series = list.slice(1).map((s, k) => (s.count - list[k].count) / Math.max(0.001, (s.t - list[k].t) / 1000));
    return { perSecond: seconds > 0 ? (now.count - then.count) / seconds : undefined, p50: quantile(deltas, now.bounds, total, 0.5), p99: quantile(deltas, now.bounds, total, 0.99), series };
  }

  function quantile(counts, bounds, total, q) {
    if (total === 0) return undefined;
    let seen = 0;
    for (let k = 0; k < counts.length; k++) {
      seen += counts[k];
      if (seen >= q * total) return k < bounds.length ? bounds[k] : Infinity;
    }
    return Infinity;
  }

  function sparkline(series) {
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 120 22');
    const points = series.slice(-60);
    const max = Math.max(1, ...points);
    const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
    line.setAttribute('points', points.map((v, k) => `${(k * 120) / 59},${21 - (v / max) * 20}`).join(' '));
    svg.append(line);
    return svg;
  }

  // ---- Drawing -----------------------------------------------------------------------------

  function health(view) {
    if (view.error || !view.health) return { kind: 'down', text: `down: ${view.error || 'no answer'}` };
    if (!view.health.ready) return { kind: 'waiting', text: `waiting for ${view.health.waiting || '?'}` };
    return { kind: 'up', text: 'up' };
  }

  function render(o) {
    const t = o.timeMs;
    const views = new Map(o.nodes.map((v) => [v.address, v]));
    for (const v of o.nodes) sample(v, t);
    const up = o.nodes.filter((v) => health(v).kind === 'up').length;
    $('summary').textContent = `metadata version ${o.metadata.version} · ${o.metadata.shards.length} shards · ${o.nodes.length} nodes, ${up} up · served by ${o.servedBy} · updated ${clock(t)}`;
    $('shards').replaceChildren(...o.metadata.shards.map((s) => shardCard(s, views)));
    drawMigration(o.metadata.migration);
    $('control').replaceChildren(controlCard(o, views));
    $('events').replaceChildren(...o.events.map(eventItem));
  }

  const NODE_COLUMNS = ['node', 'role', 'health', 'term', 'last seq', 'lag ops', 'lag ms', 'in sync', 'keys', 'disk', 'up for', 'req/s', 'p50', 'p99', 'throughput'];

  function shardCard(shard, views) {
    const leaderView = views.get(shard.leader);
    const followers = (leaderView && leaderView.state && leaderView.state.replication && leaderView.state.replication.leader && leaderView.state.replication.leader.followers) || [];
    const members = [shard.leader, ...shard.members.filter((m) => m !== shard.leader)];
    const rows = members.map((address) => nodeRow(address, views.get(address), shard, followers.find((f) => f.node === address)));
    return el('section', { class: 'card', 'data-shard': shard.name, 'data-leader': shard.leader, 'data-term': shard.term },
      el('h2', {}, `${shard.name} `, el('span', { class: 'muted' }, `· leader ${shard.leader} · term ${shard.term} · in sync: ${shard.inSync.join(', ')}`)),
      el('table', {}, el('thead', {}, el('tr', {}, NODE_COLUMNS.map((c) => el('th', {}, c)))), el('tbody', {}, rows)));
  }

  function nodeRow(address, view, shard, follower) {
    const h = health(view || { error: 'not in the overview' });
    const state = (view && view.state) || {};
    const role = state.role || (shard.leader === address ? 'leader' : 'replica');
    const f = state.replication && state.replication.follower;
    const r = rates(address);
    const engine = state.engine || {};
    const cells = [
      address,
      el('span', { class: `role-${role}` }, role),
      el('span', { class: `health ${h.kind}` }, h.text),
      state.term ?? '', state.lastSequence ?? '',
      f ? f.lagSeq : role === 'leader' ? '—' : '',
      follower ? (follower.lagMs === null ? '∞' : follower.lagMs) : role === 'leader' ? '—' : '',
      shard.inSync.includes(address) ? 'yes' : 'no',
      engine.keysEstimate ?? '', bytes(engine.diskBytes), duration(state.uptimeMs),
      r.perSecond === undefined ? '' : r.perSecond.toFixed(1), millis(r.p50), millis(r.p99),
      sparkline(r.series),
    ];
    return el('tr', { 'data-node': address, 'data-role': role, 'data-health': h.kind }, cells.map((c, k) => el('td', { class: k >= 3 && k <= 13 ? 'num' : undefined }, c)));
  }

  function drawMigration(m) {
    const box = $('migration');
    box.hidden = !m;
    if (!m) return box.replaceChildren();
    box.replaceChildren(el('div', { class: 'card', 'data-migration': m.id },
      el('h2', {}, `migration ${m.id}: ${m.kind} shard ${m.shard} → ring ${m.to.join(', ')}`),
      el('table', {}, el('thead', {}, el('tr', {}, ['giver', 'receiver', 'state', 'through seq', 'cleaned'].map((c) => el('th', {}, c)))),
        el('tbody', {}, m.moves.map((x) => el('tr', {}, [x.giver, x.receiver, x.state, x.through, x.cleaned ? 'yes' : 'no'].map((c) => el('td', {}, c))))))));
  }

  function controlCard(o, views) {
    const rows = o.controllers.map((address) => {
      const view = views.get(address) || { error: 'not in the overview' };
      const c = (view.state && view.state.control) || {};
      const h = health(view);
      return el('tr', { 'data-node': address, 'data-controller': c.role || '', 'data-health': h.kind },
        [address, c.role || '', el('span', { class: `health ${h.kind}` }, h.text), c.term ?? '', c.commit ?? '', c.leader || '', duration(view.state && view.state.uptimeMs)].map((x) => el('td', {}, x)));
    });
    // Controller-only nodes register as spares too; they are listed once, above.
    const spares = o.metadata.unassigned.filter((a) => !o.controllers.includes(a)).map((address) => {
      const view = views.get(address) || { error: 'not in the overview' };
      const h = health(view);
      return el('tr', { 'data-node': address, 'data-role': 'unassigned', 'data-health': h.kind },
        [address, el('span', { class: `health ${h.kind}` }, h.text), duration(view.state && view.state.uptimeMs)].map((x) => el('td', {}, x)));
    });
    return el('div', { class: 'card' },
      el('h2', {}, 'Control plane'),
      el('table', {}, el('thead', {}, el('tr', {}, ['controller', 'raft role', 'health', 'raft term', 'commit', 'leader', 'up for'].map((c) => el('th', {}, c)))), el('tbody', {}, rows)),
      spares.length === 0 ? null : el('h2', {}, 'Spare nodes'),
      spares.length === 0 ? null : el('table', {}, el('thead', {}, el('tr', {}, ['node', 'health', 'up for'].map((c) => el('th', {}, c)))), el('tbody', {}, spares)));
  }

  function eventItem(e) {
    return el('li', { 'data-kind': e.kind, 'data-source': e.source },
      el('time', { datetime: new Date(e.timeMs).toISOString() }, clock(e.timeMs)),
      el('span', { class: 'kind' }, e.kind), e.message,
      e.source === 'node' ? el('span', { class: 'node' }, `@ ${e.node}`) : null);
  }

  // ---- Start -------------------------------------------------------------------------------

  $('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('token').value.trim());
    $('token').value = '';
    void refresh();
  });

  async function loop() {
    try {
      await refresh();
    } catch (error) {
      problem(`could not draw the overview: ${error.message}`);
    }
    setTimeout(loop, REFRESH_MS);
  }
  void loop();
})();
