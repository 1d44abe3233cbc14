// Rampart dashboard: vanilla script, no dependencies. Every piece of server data reaches the
// page through textContent or attribute setters, never through HTML parsing.
'use strict';

(function () {
  const TOKEN_KEY = 'rampart.dashboard.token';
  const THEME_KEY = 'rampart.dashboard.theme';
  const LIVE_MAX = 200;
  const HISTORY_PAGE = 100;
  const POLL_MS = 15000;
  const RETRY_MS = 10000;

  const $ = (id) => document.getElementById(id);

  const state = {
    token: null,
    tab: 'active',
    events: null,
    eventsRetry: null,
    streamProbe: null,
    pollTimer: null,
    retryTimer: null,
    approvals: new Map(),
    historyCursor: null,
    historyRows: [],
    historyToken: 0,
  };

  // ---------- small helpers ----------

  function el(tag, opts, children) {
    const node = document.createElement(tag);
    if (opts) {
      if (opts.cls) node.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
      if (opts.title) node.title = String(opts.title);
      if (opts.attrs) {
        for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, String(v));
      }
    }
    for (const c of children || []) {
      if (c) node.appendChild(c);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function str(v) {
    return typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v);
  }

  const KNOWN_ACTIONS = ['allow', 'deny', 'ask', 'watch', 'approved', 'denied', 'expired', 'log'];

  function badge(action) {
    const a = str(action) || 'unknown';
    const kind = KNOWN_ACTIONS.includes(a) ? a : 'other';
    return el('span', { cls: 'badge badge-' + kind, text: a, attrs: { 'data-action': a } });
  }

  function todayUtc() {
    return new Date().toISOString().slice(0, 10);
  }

  function fmtTime(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    if (Number.isNaN(d.getTime())) return str(ts);
    return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  function fmtDateTime(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    return Number.isNaN(d.getTime()) ? str(ts) : d.toLocaleString();
  }

  function fmtRemaining(ms) {
    if (ms <= 0) return 'expired';
    const s = Math.floor(ms / 1000);
    const m = Math.floor(s / 60);
    const h = Math.floor(m / 60);
    if (h > 0) return h + 'h ' + (m % 60) + 'm left';
    if (m > 0) return m + 'm ' + String(s % 60).padStart(2, '0') + 's left';
    return s + 's left';
  }

  // What a tool call was about, in one line: the command, path or URL when present.
  function target(request) {
    if (!request || typeof request !== 'object') return '';
    for (const k of ['command', 'path', 'file_path', 'url', 'query']) {
      if (typeof request[k] === 'string' && request[k] !== '') return request[k];
    }
    try {
      const s = JSON.stringify(request);
      return s.length > 300 ? s.slice(0, 300) + '…' : s;
    } catch (_) {
      return '';
    }
  }

  let toastTimer = null;
  function toast(msg, isError) {
    const t = $('toast');
    t.textContent = msg;
    t.classList.toggle('toast-error', !!isError);
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function confirmDialog(title, text, okLabel) {
    const d = $('confirm');
    $('confirm-title').textContent = title;
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel || 'Confirm';
    return new Promise((resolve) => {
      const done = () => {
        d.removeEventListener('close', done);
        resolve(d.returnValue === 'ok');
      };
      d.returnValue = '';
      d.addEventListener('close', done);
      d.showModal();
      $('confirm-cancel').focus();
    });
  }

  // ---------- theme ----------

  function effectiveTheme() {
    const set = document.documentElement.getAttribute('data-theme');
    if (set === 'dark' || set === 'light') return set;
    return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches
      ? 'dark' : 'light';
  }

  function applyStoredTheme() {
    let t = null;
    try { t = localStorage.getItem(THEME_KEY); } catch (_) { /* storage disabled */ }
    if (t === 'dark' || t === 'light') document.documentElement.setAttribute('data-theme', t);
    else document.documentElement.removeAttribute('data-theme');
    labelThemeToggle();
  }

  function labelThemeToggle() {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    $('theme-toggle').textContent = next === 'dark' ? 'Dark theme' : 'Light theme';
  }

  function toggleTheme() {
    const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.setAttribute('data-theme', next);
    try { localStorage.setItem(THEME_KEY, next); } catch (_) { /* storage disabled */ }
    labelThemeToggle();
  }

  // ---------- API ----------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, opts) {
    const o = opts || {};
    const headers = { Authorization: 'Bearer ' + state.token };
    let body;
    if (o.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.body);
    }
    let resp;
    try {
      resp = await fetch(path, {
        method: o.method || 'GET',
        headers,
        body,
        cache: 'no-store',
        credentials: 'omit',
        redirect: 'error',
      });
    } catch (_) {
      serverUnreachable();
      throw new ApiError(0, 'server unreachable');
    }
    serverReachable();
    if (o.raw && resp.ok) return resp;
    let data = null;
    try { data = await resp.json(); } catch (_) { data = null; }
    if (!resp.ok) {
      const msg = data && typeof data.error === 'string' ? data.error : 'HTTP ' + resp.status;
      if (resp.status === 401) signOut('The server rejected the token: ' + msg);
      throw new ApiError(resp.status, msg);
    }
    return data;
  }

  function serverUnreachable() {
    $('banner').hidden = false;
    setConn('offline', 'Offline');
    if (!state.retryTimer && state.token) {
      state.retryTimer = setTimeout(() => { state.retryTimer = null; refreshAll(); }, RETRY_MS);
    }
  }

  function serverReachable() {
    if (!$('banner').hidden) $('banner').hidden = true;
  }

  function setConn(kind, text) {
    const c = $('conn');
    c.textContent = text;
    c.className = 'conn conn-' + kind;
  }

  // ---------- sign in / out ----------

  function readToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (_) { return null; }
  }

  async function signIn(token) {
    state.token = token;
    $('login-error').textContent = '';
    try {
      await api('/v1/status');
    } catch (e) {
      if (e.status !== 401) {
        $('login-error').textContent = e.status === 0
          ? 'Cannot reach the server.'
          : 'The server refused: ' + e.message;
        state.token = null;
      }
      return;
    }
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch (_) { /* storage disabled */ }
    $('login').hidden = true;
    $('app').hidden = false;
    $('tabs').hidden = false;
    $('sign-out').hidden = false;
    startStream();
    startPolling();
    showTab(state.tab);
    refreshApprovals();
  }

  function signOut(reason) {
    state.token = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* storage disabled */ }
    stopStream();
    clearInterval(state.pollTimer);
    state.pollTimer = null;
    clearTimeout(state.retryTimer);
    state.retryTimer = null;
    $('app').hidden = true;
    $('tabs').hidden = true;
    $('sign-out').hidden = true;
    $('banner').hidden = true;
    $('login').hidden = false;
    $('token-input').value = '';
    $('login-error').textContent = reason || '';
    setConn('idle', 'Not connected');
    $('token-input').focus();
  }

  // ---------- live stream ----------

  function startStream() {
    stopStream();
    // EventSource cannot send headers; the API accepts ?token= on this one route only.
    const es = new EventSource('/v1/events/stream?token=' + encodeURIComponent(state.token));
    state.events = es;
    setConn('connecting', 'Connecting…');
    es.onopen = () => setConn('live', 'Live');
    es.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch (_) { return; }
      if (f && typeof f === 'object') onFrame(f);
    };
    es.onerror = () => {
      if (state.events !== es) return;
      setConn('offline', 'Reconnecting…');
      // Find out soon whether the whole server is gone (the banner) or only the stream.
      clearTimeout(state.streamProbe);
      state.streamProbe = setTimeout(refreshApprovals, 5000);
      if (es.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an HTTP error). Probe with the header, then retry.
        clearTimeout(state.eventsRetry);
        state.eventsRetry = setTimeout(() => {
          if (!state.token) return;
          api('/v1/status').then(startStream, () => {
            if (state.token) state.eventsRetry = setTimeout(startStream, RETRY_MS);
          });
        }, 5000);
      }
    };
  }

  function stopStream() {
    clearTimeout(state.eventsRetry);
    if (state.events) {
      state.events.close();
      state.events = null;
    }
  }

  function onFrame(f) {
    switch (f.type) {
      case 'connected':
        setConn('live', 'Live');
        serverReachable();
        refreshApprovals();
        break;
      case 'approvals':
        refreshApprovals();
        break;
      case 'audit':
        if (f.event && typeof f.event === 'object') addLive(f.event);
        break;
      case 'audit_batch':
        if (state.tab === 'history') loadHistory(true);
        break;
      case 'rule.learned':
        if (state.tab === 'policy') loadAutoRules();
        break;
      case 'policy.reloaded':
        if (state.tab === 'policy') loadStatus();
        break;
      case 'policy.reload_failed':
        toast('Policy reload failed: ' + str(f.error), true);
        if (state.tab === 'policy') loadStatus();
        break;
      case 'lagged':
        toast('The live feed skipped ' + str(f.missed) + ' events; History has them all.');
        refreshApprovals();
        break;
      default:
        break;
    }
  }

  function addLive(ev) {
    const list = $('live');
    const d = ev.decision && typeof ev.decision === 'object' ? ev.decision : {};
    const li = el('li', { cls: 'feed-item', attrs: { 'data-id': str(ev.id) } }, [
      el('span', { cls: 'feed-time', text: fmtTime(ev.timestamp) || fmtTime(new Date().toISOString()) }),
      badge(d.action),
      el('span', { cls: 'feed-tool', text: str(ev.tool) }),
      el('code', { cls: 'feed-target', text: target(ev.request) }),
      el('span', { cls: 'feed-agent muted', text: str(ev.agent) }),
      d.message ? el('span', { cls: 'feed-msg muted', text: str(d.message) }) : null,
    ]);
    list.insertBefore(li, list.firstChild);
    while (list.childElementCount > LIVE_MAX) list.removeChild(list.lastChild);
    $('live-empty').hidden = true;
  }

  // ---------- approvals ----------

  function startPolling() {
    clearInterval(state.pollTimer);
    state.pollTimer = setInterval(refreshApprovals, POLL_MS);
  }

  let approvalsInFlight = false;
  let approvalsAgain = false;
  async function refreshApprovals() {
    if (!state.token) return;
    if (approvalsInFlight) { approvalsAgain = true; return; }
    approvalsInFlight = true;
    try {
      const data = await api('/v1/approvals');
      renderApprovals(Array.isArray(data && data.approvals) ? data.approvals : []);
    } catch (_) {
      // banner / sign-out already handled
    } finally {
      approvalsInFlight = false;
      if (approvalsAgain) { approvalsAgain = false; refreshApprovals(); }
    }
  }

  function renderApprovals(list) {
    const box = $('approvals');
    const pending = list.filter((a) => a && (a.status === undefined || a.status === 'pending'));
    const seen = new Set();
    let prev = null;
    for (const a of pending) {
      const id = str(a.id);
      seen.add(id);
      let card = state.approvals.get(id);
      if (!card) {
        card = approvalCard(a);
        state.approvals.set(id, card);
      }
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== card) box.insertBefore(card, want);
      prev = card;
    }
    for (const [id, card] of state.approvals) {
      if (!seen.has(id)) {
        card.remove();
        state.approvals.delete(id);
      }
    }
    const n = pending.length;
    $('pending-count').textContent = String(n);
    $('pending-count').classList.toggle('count-hot', n > 0);
    $('no-pending').hidden = n > 0;
    $('pending-summary').textContent = n > 0 ? '(' + n + ')' : '';
    document.title = n > 0 ? '(' + n + ') Rampart' : 'Rampart';
    tickCountdowns();
  }

  function approvalCard(a) {
    const id = str(a.id);
    const countdown = el('span', {
      cls: 'countdown',
      attrs: { 'data-expires': str(a.expires_at), 'aria-label': 'time left' },
    });
    const buttons = el('div', { cls: 'row' }, [
      el('button', { cls: 'approve primary', text: 'Approve', attrs: { type: 'button' } }),
      el('button', { cls: 'deny danger', text: 'Deny', attrs: { type: 'button' } }),
      el('button', { cls: 'always', text: 'Always allow', attrs: { type: 'button' } }),
    ]);
    const meta = el('dl', { cls: 'kv' }, [
      el('dt', { text: 'Agent' }), el('dd', { text: str(a.agent) || '—' }),
      a.session ? el('dt', { text: 'Session' }) : null,
      a.session ? el('dd', { text: str(a.session) }) : null,
      a.run_id ? el('dt', { text: 'Run' }) : null,
      a.run_id ? el('dd', { text: str(a.run_id) }) : null,
      a.credential_owner ? el('dt', { text: 'Credential' }) : null,
      a.credential_owner ? el('dd', { text: str(a.credential_owner) }) : null,
      el('dt', { text: 'Asked' }), el('dd', { text: fmtDateTime(a.created_at) }),
    ]);
    const card = el('article', {
      cls: 'card approval',
      attrs: { 'data-id': id, 'aria-label': 'Approval for ' + str(a.tool) },
    }, [
      el('div', { cls: 'card-head' }, [
        el('span', { cls: 'tool-name', text: str(a.tool) }),
        countdown,
      ]),
      el('pre', { cls: 'command', text: str(a.command) }),
      a.message ? el('p', { cls: 'message', text: str(a.message) }) : null,
      meta,
      buttons,
    ]);
    const [approve, deny, always] = buttons.querySelectorAll('button');
    approve.addEventListener('click', () => resolveApproval(card, a, true, false));
    deny.addEventListener('click', () => resolveApproval(card, a, false, false));
    always.addEventListener('click', async () => {
      const ok = await confirmDialog(
        'Always allow this?',
        'Approve this call and add a permanent allow rule for ' + str(a.tool) + ': "'
          + str(a.command) + '". Future identical calls will run without asking. '
          + 'You can revoke the rule in the Policy tab.',
        'Always allow',
      );
      if (ok) resolveApproval(card, a, true, true);
    });
    return card;
  }

  async function resolveApproval(card, a, approved, persist) {
    for (const b of card.querySelectorAll('button')) b.disabled = true;
    try {
      await api('/v1/approvals/' + encodeURIComponent(str(a.id)) + '/resolve', {
        method: 'POST',
        body: { approved, resolved_by: 'dashboard', persist },
      });
      toast((approved ? 'Approved' : 'Denied') + ': ' + str(a.command));
    } catch (e) {
      if (e.status === 410 || e.status === 404) toast('Already resolved or expired.');
      else if (e.status !== 0) toast('Could not resolve: ' + e.message, true);
    }
    refreshApprovals();
    if (persist && state.tab === 'policy') loadAutoRules();
    if (card.isConnected) for (const b of card.querySelectorAll('button')) b.disabled = false;
  }

  function tickCountdowns() {
    const now = Date.now();
    for (const c of document.querySelectorAll('.countdown')) {
      const exp = Date.parse(c.getAttribute('data-expires') || '');
      if (Number.isNaN(exp)) { c.textContent = ''; continue; }
      const left = exp - now;
      c.textContent = fmtRemaining(left);
      c.classList.toggle('countdown-low', left < 60000);
    }
  }

  // ---------- history ----------

  async function loadDates() {
    const sel = $('h-date');
    const keep = sel.value;
    let dates = [];
    try {
      const d = await api('/v1/audit/dates');
      if (d && Array.isArray(d.dates)) dates = d.dates.filter((x) => typeof x === 'string');
    } catch (_) { /* fall back to today only */ }
    const today = todayUtc();
    if (!dates.includes(today)) dates.unshift(today);
    clear(sel);
    for (const day of dates) sel.appendChild(el('option', { text: day, attrs: { value: day } }));
    sel.value = dates.includes(keep) ? keep : today;
  }

  function historyQuery(cursor) {
    const p = new URLSearchParams();
    p.set('date', $('h-date').value || todayUtc());
    p.set('limit', String(HISTORY_PAGE));
    const action = $('h-action').value;
    const tool = $('h-tool').value.trim();
    const agent = $('h-agent').value.trim();
    if (action) p.set('action', action);
    if (tool) p.set('tool', tool);
    if (agent) p.set('agent', agent);
    if (cursor) p.set('before', cursor);
    return '/v1/audit/events?' + p.toString();
  }

  async function loadHistory(fresh) {
    const ticket = ++state.historyToken;
    const cursor = fresh ? null : state.historyCursor;
    $('h-more').disabled = true;
    let data;
    try {
      data = await api(historyQuery(cursor));
    } catch (e) {
      if (e.status !== 0 && e.status !== 401) toast('History: ' + e.message, true);
      $('h-more').disabled = false;
      return;
    }
    if (ticket !== state.historyToken) return; // a newer load won
    if (fresh) {
      clear($('h-rows'));
      state.historyRows = [];
    }
    const events = Array.isArray(data && data.events) ? data.events : [];
    for (const ev of events) {
      if (ev && typeof ev === 'object') {
        const row = historyRow(ev);
        state.historyRows.push(row);
        $('h-rows').appendChild(row);
      }
    }
    state.historyCursor = data && data.has_more ? data.next_cursor : null;
    $('h-more').hidden = !state.historyCursor;
    $('h-more').disabled = false;
    const total = data && typeof data.total_in_file === 'number' ? data.total_in_file : null;
    $('h-stats').textContent = 'Showing ' + state.historyRows.length + ' event(s)'
      + (total !== null ? ' of ' + total + ' recorded on ' + str(data.date) : '') + '.';
    applyTextFilter();
  }

  function historyRow(ev) {
    const d = ev.decision && typeof ev.decision === 'object' ? ev.decision : {};
    const tgt = target(ev.request);
    const row = el('tr', { attrs: { 'data-action': str(d.action) } }, [
      el('td', { cls: 'nowrap', text: fmtTime(ev.timestamp), title: str(ev.timestamp) }),
      el('td', {}, [badge(d.action)]),
      el('td', { text: str(ev.tool) }),
      el('td', { cls: 'cmd' }, [el('code', { text: tgt })]),
      el('td', { text: str(ev.agent) }),
      el('td', { cls: 'muted', text: str(d.message) }),
    ]);
    row.dataset.search = [tgt, ev.tool, ev.agent, ev.session, d.message, d.action]
      .map(str).join('\n').toLowerCase();
    return row;
  }

  function applyTextFilter() {
    const q = $('h-text').value.trim().toLowerCase();
    let shown = 0;
    for (const row of state.historyRows) {
      const match = !q || row.dataset.search.includes(q);
      row.hidden = !match;
      if (match) shown++;
    }
    $('h-empty').hidden = shown > 0;
  }

  async function exportDay() {
    const day = $('h-date').value || todayUtc();
    let resp;
    try {
      resp = await api('/v1/audit/export?date=' + encodeURIComponent(day), { raw: true });
    } catch (e) {
      if (e.status === 404) toast('Nothing recorded on ' + day + '.');
      else if (e.status !== 0) toast('Export failed: ' + e.message, true);
      return;
    }
    const blob = await resp.blob();
    const url = URL.createObjectURL(blob);
    const a = el('a', { attrs: { href: url, download: 'rampart-audit-' + day + '.jsonl' } });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // ---------- policy ----------

  async function loadStatus() {
    let s;
    try { s = await api('/v1/status'); } catch (_) { return; }
    const dl = $('status');
    clear(dl);
    const pairs = [
      ['Mode', s.mode],
      ['Default action', s.default_action],
      ['Policies', s.policy_count],
      ['Rules', s.rule_count],
      ['Loaded from', s.config_path],
      ['Version', s.version],
    ];
    for (const [k, v] of pairs) {
      if (v === undefined || v === null || v === '') continue;
      dl.appendChild(el('dt', { text: k }));
      const dd = el('dd', { attrs: { 'data-key': k } });
      if (k === 'Mode' || k === 'Default action') dd.appendChild(badge(v));
      else dd.textContent = str(v);
      dl.appendChild(dd);
    }
    const err = $('reload-error');
    err.hidden = !s.reload_error;
    err.textContent = s.reload_error ? 'Last reload failed (old policy still active): ' + str(s.reload_error) : '';
  }

  async function loadPolicies() {
    let p;
    try { p = await api('/v1/policies'); } catch (_) { return; }
    const body = $('policies');
    clear(body);
    const list = Array.isArray(p && p.policies) ? p.policies : [];
    for (const pol of list) {
      if (!pol || typeof pol !== 'object') continue;
      const tools = Array.isArray(pol.match_tools) ? pol.match_tools.map(str).join(', ') : 'any';
      body.appendChild(el('tr', {}, [
        el('td', { cls: 'wrap', text: str(pol.name) }),
        el('td', { text: tools + (pol.match_agent ? ' (agent ' + str(pol.match_agent) + ')' : '') }),
        el('td', { text: str(pol.rule_count) }),
        el('td', { text: str(pol.priority) }),
        el('td', { cls: 'muted wrap', text: str(pol.source_file) }),
      ]));
    }
    if (list.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { text: 'No policies loaded.', attrs: { colspan: 5 } })]));
    }
  }

  async function loadAutoRules() {
    let r;
    try { r = await api('/v1/rules/auto-allowed'); } catch (_) { return; }
    const body = $('auto-rules');
    clear(body);
    const rules = Array.isArray(r && r.rules) ? r.rules : [];
    for (const rule of rules) {
      if (!rule || typeof rule !== 'object') continue;
      const revoke = el('button', { cls: 'danger small', text: 'Revoke', attrs: { type: 'button' } });
      revoke.addEventListener('click', () => revokeRule(rule, revoke));
      body.appendChild(el('tr', { attrs: { 'data-name': str(rule.name) } }, [
        el('td', { cls: 'cmd' }, [el('code', { text: str(rule.command_pattern || rule.path_pattern) })]),
        el('td', { text: str(rule.tool) }),
        el('td', { text: rule.created ? fmtDateTime(rule.created) : '' }),
        el('td', { cls: 'end' }, [revoke]),
      ]));
    }
    $('auto-empty').hidden = rules.length > 0;
    $('auto-table').hidden = rules.length === 0;
  }

  async function revokeRule(rule, button) {
    const ok = await confirmDialog(
      'Revoke rule?',
      'Remove the always-allow rule for "' + str(rule.command_pattern || rule.path_pattern)
        + '". Matching calls will be asked about again.',
      'Revoke',
    );
    if (!ok) return;
    button.disabled = true;
    try {
      await api('/v1/rules/auto-allowed/' + encodeURIComponent(str(rule.name)), { method: 'DELETE' });
      toast('Rule revoked.');
    } catch (e) {
      if (e.status !== 0) toast('Could not revoke: ' + e.message, true);
    }
    loadAutoRules();
    loadStatus();
  }

  async function reloadPolicy() {
    const b = $('reload');
    b.disabled = true;
    $('reload-result').textContent = '';
    try {
      const r = await api('/v1/policy/reload', { method: 'POST' });
      $('reload-result').textContent = 'Reloaded ' + str(r.policies_loaded) + ' policies, '
        + str(r.rules_total) + ' rules in ' + str(r.reload_time_ms) + ' ms.';
    } catch (e) {
      if (e.status !== 0) $('reload-result').textContent = 'Reload failed: ' + e.message;
    }
    b.disabled = false;
    loadStatus();
    loadPolicies();
  }

  async function runRepl(ev) {
    ev.preventDefault();
    const command = $('repl-command').value;
    if (!command.trim()) return;
    const b = $('repl-run');
    b.disabled = true;
    try {
      const r = await api('/v1/test', { method: 'POST', body: { command, tool: $('repl-tool').value } });
      const action = $('repl-action');
      action.textContent = str(r.action);
      action.className = 'badge badge-' + (KNOWN_ACTIONS.includes(r.action) ? r.action : 'other');
      action.setAttribute('data-action', str(r.action));
      $('repl-message').textContent = str(r.message) || '(no message)';
      $('repl-rule').textContent = r.rule && typeof r.rule === 'object'
        ? str(r.rule.policy) + ' — rule #' + (Number(r.rule.rule_index) + 1)
        : 'default action';
      const matched = Array.isArray(r.matched_policies) ? r.matched_policies.map(str) : [];
      $('repl-matched').textContent = matched.length ? matched.join(', ') : 'none';
      $('repl-result').hidden = false;
    } catch (e) {
      if (e.status !== 0) toast('Test failed: ' + e.message, true);
    }
    b.disabled = false;
  }

  // ---------- tabs and wiring ----------

  function showTab(name) {
    state.tab = name;
    for (const t of document.querySelectorAll('[role="tab"]')) {
      const on = t.getAttribute('data-tab') === name;
      t.setAttribute('aria-selected', on ? 'true' : 'false');
      t.tabIndex = on ? 0 : -1;
      $('panel-' + t.getAttribute('data-tab')).hidden = !on;
    }
    if (name === 'history') loadDates().then(() => loadHistory(true));
    if (name === 'policy') { loadStatus(); loadPolicies(); loadAutoRules(); }
    if (name === 'active') refreshApprovals();
  }

  function refreshAll() {
    if (!state.token) return;
    refreshApprovals();
    if (!state.events || state.events.readyState === EventSource.CLOSED) startStream();
    showTab(state.tab);
  }

  function wire() {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token-input').value.trim();
      if (t) signIn(t);
    });
    $('sign-out').addEventListener('click', () => signOut(''));
    $('theme-toggle').addEventListener('click', toggleTheme);
    if (window.matchMedia) {
      const mq = window.matchMedia('(prefers-color-scheme: dark)');
      if (mq.addEventListener) mq.addEventListener('change', labelThemeToggle);
    }
    $('retry').addEventListener('click', () => {
      clearTimeout(state.retryTimer);
      state.retryTimer = null;
      refreshAll();
    });
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    for (const t of tabs) {
      t.addEventListener('click', () => showTab(t.getAttribute('data-tab')));
      t.addEventListener('keydown', (ev) => {
        if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
        const i = tabs.indexOf(t);
        const next = tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
        next.focus();
        showTab(next.getAttribute('data-tab'));
      });
    }
    $('history-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadHistory(true); });
    for (const id of ['h-date', 'h-action']) {
      $(id).addEventListener('change', () => loadHistory(true));
    }
    $('h-text').addEventListener('input', applyTextFilter);
    $('h-more').addEventListener('click', () => loadHistory(false));
    $('h-export').addEventListener('click', exportDay);
    $('reload').addEventListener('click', reloadPolicy);
    $('repl-form').addEventListener('submit', runRepl);
  }

  function start() {
    applyStoredTheme();
    wire();
    setInterval(tickCountdowns, 1000);
    const saved = readToken();
    if (saved) signIn(saved);
    else $('token-input').focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
