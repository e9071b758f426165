// The Doorstep console: one ES module, no framework, no build step. It
// calls only the public API (/v1/…) with the session cookie, and builds
// the page with DOM calls (never HTML strings), so no data can inject markup.
import { dict } from './i18n.js';

const S = { lang: localStorage.getItem('lang') === 'en' ? 'en' : 'zh', me: null };
const t = (k) => dict[S.lang][k] ?? dict.zh[k] ?? k;
const $ = (id) => document.getElementById(id);
// ev names an enumeration value the API returns (class, risk, status…)
// through the dictionary: prefix_value; a value this build does not know
// is shown as it is, never hidden.
const ev = (prefix, v) => (v === undefined || v === null || v === '' ? '—' : dict[S.lang][`${prefix}_${v}`] ?? dict.zh[`${prefix}_${v}`] ?? String(v));

// el builds an element: attributes (on* are listeners) and children.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
  return e;
}
const svgEl = (tag, attrs, ...kids) => {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of kids) e.append(c);
  return e;
};

class ApiError extends Error {
  constructor(status, problem) { super(problem?.detail || String(status)); this.status = status; this.problem = problem; }
}

async function api(method, path, body, headers = {}) {
  const h = { 'Accept-Language': S.lang === 'zh' ? 'zh-CN' : 'en', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const ct = res.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, typeof data === 'object' ? data : { detail: data });
  return { data, headers: res.headers, status: res.status };
}

function problemText(err) {
  const p = err.problem || {};
  return (S.lang === 'zh' ? p.message_zh : p.message_en) || p.detail || err.message;
}
const errorBox = (err) => el('div', { class: 'error', role: 'alert' }, `${t('error')}: ${problemText(err)}`);

const fmtTime = (s) => {
  if (!s) return '—';
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString(S.lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', dateStyle: 'short', timeStyle: 'short' });
};
const pct = (r) => (r && r.den ? `${Math.round((r.value ?? r.num / r.den) * 1000) / 10}%` : '—');

function status(msg) { $('status').textContent = msg; if (msg) setTimeout(() => { if ($('status').textContent === msg) $('status').textContent = ''; }, 4000); }

// mask shows a sensitive value as masked: its existence, never its digits.
function mask(v) {
  if (!v) return '—';
  if (v.sealed || v.value !== undefined || v.given) return `●●●● ${t('masked')}`;
  return '—';
}

function table(headers, rows, caption) {
  return el('div', { class: 'scroll' }, el('table', {},
    caption ? el('caption', { class: 'muted', text: caption }) : null,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.length ? rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c)))) : el('tr', {}, el('td', { colspan: headers.length, text: t('none') })))));
}

const canWrite = () => ['worker', 'supervisor', 'admin'].includes(S.me?.role);
const canAudit = () => ['supervisor', 'auditor', 'admin'].includes(S.me?.role);
const hasWorklists = () => ['worker', 'supervisor', 'department', 'admin'].includes(S.me?.role);
const canReceive = () => ['department', 'supervisor', 'admin'].includes(S.me?.role);

// ---- frame ----------------------------------------------------------------

function frame() {
  document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
  document.title = t('title');
  $('brand').textContent = t('title');
  $('skip').textContent = t('skip');
  $('nav').setAttribute('aria-label', t('mainNav'));
  const lang = $('lang');
  lang.textContent = t('switchLang');
  lang.setAttribute('lang', S.lang === 'zh' ? 'en' : 'zh-CN');
  $('signout').textContent = t('signOut');
  $('signout').hidden = !S.me;
  $('who').textContent = S.me ? `${t('signedInAs')}${S.me.name} (${t('role_' + S.me.role)})` : '';
  const nav = $('nav');
  nav.replaceChildren();
  if (!S.me) return;
  const links = [];
  if (canAudit()) links.push(['#/dashboard', t('navDashboard')]);
  if (hasWorklists()) links.push(['#/worklists', t('navWorklists')]);
  if (S.me.role !== 'department' && S.me.role !== 'integrator') links.push(['#/households', t('navHouseholds')]);
  if (S.me.role === 'admin') links.push(['#/admin', t('navAdmin')]);
  const here = location.hash.split('?')[0] || '#/';
  for (const [href, label] of links) nav.append(el('a', { href, 'aria-current': here.startsWith(href) ? 'page' : null, text: label }));
}

function show(...nodes) {
  const main = $('main');
  main.replaceChildren(...nodes);
  frame();
  main.focus();
}

// ---- sign-in --------------------------------------------------------------

function signInScreen(err) {
  const msg = el('div', { id: 'signin-msg', 'aria-live': 'assertive' }, err ? errorBox(err) : null);
  const form = el('form', { class: 'signin card', 'aria-labelledby': 'signin-h' },
    el('h1', { id: 'signin-h', text: t('signInTitle') }), msg,
    el('label', { for: 'login', text: t('login') }), el('input', { id: 'login', name: 'login', autocomplete: 'username', required: true, autocapitalize: 'none' }),
    el('label', { for: 'password', text: t('password') }), el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    el('p', {}, el('button', { type: 'submit', id: 'signin-btn', text: t('signIn') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('POST', '/v1/session', { login: form.login.value.trim(), password: form.password.value });
      await loadMe();
      const next = canAudit() ? '#/dashboard' : S.me.role === 'department' ? '#/worklists' : '#/households';
      if (location.hash === next) route(); else location.hash = next; // hashchange routes
    } catch (e) { msg.replaceChildren(errorBox(e)); form.password.value = ''; form.password.focus(); }
  });
  return [form];
}

async function loadMe() {
  try { S.me = (await api('GET', '/v1/whoami')).data; } catch (e) { S.me = null; if (e.status !== 401) throw e; }
}

// ---- scope ------------------------------------------------------------------

// scopeChoice: a supervisor of several communities (a worker of several
// grids) names one in list queries; the choice travels in the URL fragment.
function scopeChoice(params) {
  if (S.me.role === 'supervisor' && S.me.communities?.length > 1) return { key: 'community', values: S.me.communities, value: params.get('community') || S.me.communities[0] };
  if (S.me.role === 'worker' && S.me.grids?.length > 1) return { key: 'grid', values: S.me.grids, value: params.get('grid') || S.me.grids[0] };
  return null;
}
const scopeQuery = (c) => (c ? `&${c.key}=${encodeURIComponent(c.value)}` : '');
function scopeSelect(c, screen) {
  if (!c) return null;
  const sel = el('select', { id: 'scope', name: c.key }, c.values.map((v) => el('option', { value: v, selected: v === c.value, text: v })));
  sel.addEventListener('change', () => { location.hash = `#/${screen}?${c.key}=${encodeURIComponent(sel.value)}`; });
  return el('p', {}, el('label', { for: 'scope', text: t(c.key) }), sel);
}

// ---- dashboard --------------------------------------------------------------

async function dashboard(params) {
  const c = scopeChoice(params), q = scopeQuery(c);
  const [counts, breached, approaching, measures, flags] = await Promise.all([
    api('GET', '/v1/alerts/counts'),
    api('GET', `/v1/alerts?stage=breached&limit=100${q}`),
    api('GET', `/v1/alerts?stage=approaching&limit=100${q}`),
    api('GET', `/v1/measures?${q.slice(1)}`).catch((e) => ({ error: e })),
    api('GET', '/v1/measures/flags').catch((e) => ({ error: e })),
  ]);
  const groups = new Map();
  for (const a of [...breached.data.alerts, ...approaching.data.alerts]) {
    const k = `${a.community}\u0000${a.grid}`;
    const g = groups.get(k) || { community: a.community, grid: a.grid, breached: 0, approaching: 0, who: new Set() };
    g[a.stage]++;
    if (a.responsible) g.who.add(a.responsible);
    groups.set(k, g);
  }
  const gridRows = [...groups.values()].sort((a, b) => b.breached - a.breached || a.grid.localeCompare(b.grid))
    .map((g) => [g.community, g.grid, el('span', { class: g.breached ? 'bad' : '' }, g.breached), el('span', { class: g.approaching ? 'warn' : '' }, g.approaching), [...g.who].join('、')]);
  const alertRows = breached.data.alerts.map((a) => [
    t('kind_' + a.kind), a.community, a.grid, a.responsible || '—', fmtTime(a.due),
    a.household_id ? el('a', { href: `#/household/${encodeURIComponent(a.household_id)}`, 'data-alert-kind': a.kind, text: t('open') }) : '—']);
  const parts = [
    el('h1', { text: t('dashboard') }),
    el('h2', { text: `${t('deadlines')} · ${t('byCommunity')}` }),
    table([t('community'), t('breached'), t('approaching')], counts.data.communities.map((c) => [c.community, el('span', { class: c.breached ? 'bad' : '' }, c.breached), c.approaching])),
    scopeSelect(c, 'dashboard'),
    el('h2', { text: `${t('deadlines')} · ${t('byGrid')}` }),
    table([t('community'), t('grid'), t('breached'), t('approaching'), t('responsible')], gridRows),
    el('h2', { text: t('breached') }),
    el('div', { id: 'breached' }, table([t('kind'), t('community'), t('grid'), t('responsible'), t('due'), t('household')], alertRows)),
  ];
  parts.push(el('h2', { text: t('measures') }));
  if (measures.error) parts.push(errorBox(measures.error));
  else parts.push(...measuresView(measures.data));
  parts.push(el('h2', { text: t('flags') }));
  if (flags.error) parts.push(errorBox(flags.error));
  else {
    const fl = (flags.data.flags || []).filter((f) => !c || c.key !== 'community' || f.community === c.value);
    parts.push(fl.length ? el('ul', { id: 'flags' }, fl.map((f) => el('li', { class: 'warn', text: S.lang === 'zh' ? f.message_zh : f.message_en }))) : el('p', { text: t('none') }));
  }
  return parts;
}

function measuresView(m) {
  const rows = m.rows || [];
  const month = rows.reduce((acc, r) => (r.month > acc ? r.month : acc), '');
  const cur = rows.filter((r) => r.month === month);
  return [
    el('p', { class: 'muted', text: `${t('month')}: ${month || '—'}` }),
    table([t('community'), t('resolutionRate'), t('onTime'), t('coverage'), t('satisfaction')],
      cur.map((r) => [r.group, pct(r.resolution_rate), pct(r.on_time?.visit_entry), pct(r.visit_coverage), r.satisfaction?.den ? (r.satisfaction.num / r.satisfaction.den).toFixed(1) : '—'])),
    barChart(cur.map((r) => ({ label: r.group, value: r.resolution_rate?.den ? r.resolution_rate.num / r.resolution_rate.den : 0 })), 0.8, t('chartTitle')),
    trendChart(rows),
  ];
}

// trendChart: the resolution rate of the communities shown, month by
// month (the last 12), against the 80% target.
function trendChart(rows) {
  const by = new Map();
  for (const r of rows) {
    const m = by.get(r.month) || { num: 0, den: 0 };
    m.num += r.resolution_rate?.num || 0; m.den += r.resolution_rate?.den || 0;
    by.set(r.month, m);
  }
  const months = [...by.keys()].sort().slice(-12);
  const title = t('trendTitle');
  const w = 560, h = 200, left = 36, right = 10, top = 10, bottom = 30, span = w - left - right, hh = h - top - bottom;
  const x = (i) => left + (months.length > 1 ? (i * span) / (months.length - 1) : span / 2);
  const y = (v) => top + (1 - v) * hh;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': title, width: '100%', style: 'max-width:640px' });
  svg.append(svgEl('title', {}, title));
  for (const v of [0, 0.5, 1]) { const tx = svgEl('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end' }); tx.textContent = `${v * 100}%`; svg.append(tx); }
  svg.append(svgEl('line', { class: 'target', x1: left, x2: w - right, y1: y(0.8), y2: y(0.8) }));
  const pts = months.map((m, i) => { const r = by.get(m); return r.den ? [x(i), y(r.num / r.den)] : null; }).filter(Boolean);
  if (pts.length) svg.append(svgEl('polyline', { points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: '#0b5cad', 'stroke-width': 2 }));
  months.forEach((m, i) => {
    const r = by.get(m);
    if (r.den) svg.append(svgEl('circle', { cx: x(i), cy: y(r.num / r.den), r: 3, fill: '#0b5cad' }));
    const tx = svgEl('text', { x: x(i), y: h - 10, 'text-anchor': 'middle' }); tx.textContent = m.slice(5); svg.append(tx);
  });
  const list = table([t('month'), t('resolutionRate')], months.map((m) => [m, pct(by.get(m))]), title);
  return el('figure', { id: 'trend' }, svg, el('figcaption', { class: 'muted', text: title }), el('details', {}, el('summary', { text: t('asTable') }), list));
}

// barChart draws an SVG bar chart with a dashed target line; the figure's
// numbers are also in the table above it, for screen readers.
function barChart(items, target, title) {
  const w = 360, rowH = 26, h = Math.max(1, items.length) * rowH + 20, left = 110, span = w - left - 40;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': title, width: '100%', style: 'max-width:560px' });
  svg.append(svgEl('title', {}, title));
  items.forEach((it, i) => {
    const y = 10 + i * rowH;
    const lbl = svgEl('text', { x: left - 6, y: y + 15, 'text-anchor': 'end' }); lbl.textContent = it.label;
    const val = svgEl('text', { x: left + it.value * span + 4, y: y + 15 }); val.textContent = `${Math.round(it.value * 100)}%`;
    svg.append(lbl, svgEl('rect', { class: 'bar', x: left, y: y + 3, width: Math.max(1, it.value * span), height: rowH - 8 }), val);
  });
  svg.append(svgEl('line', { class: 'target', x1: left + target * span, x2: left + target * span, y1: 4, y2: h - 4 }));
  return el('figure', {}, svg, el('figcaption', { class: 'muted', text: title }));
}

// ---- households -------------------------------------------------------------

async function households(params) {
  const q = params.get('q') || '', c = scopeChoice(params);
  const res = await api('GET', `/v1/households?limit=50${q ? '&q=' + encodeURIComponent(q) : ''}${scopeQuery(c)}`);
  const form = el('form', { role: 'search' },
    el('label', { for: 'q', text: t('search') }), el('input', { id: 'q', name: 'q', type: 'search', value: q }),
    el('p', {}, el('button', { type: 'submit', text: t('searchBtn') })));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); location.hash = `#/households?q=${encodeURIComponent(form.q.value)}${scopeQuery(c)}`; });
  const rows = res.data.households.map((h) => [
    el('a', { href: `#/household/${encodeURIComponent(h.household_id)}`, text: h.address }), h.grid, ev('risk', h.risk), h.open_problems, fmtTime(h.next_visit_due)]);
  return [el('h1', { text: t('households') }), scopeSelect(c, 'households'), form, table([t('address'), t('grid'), t('risk'), t('openProblems'), t('nextVisit')], rows)];
}

// ---- household file ---------------------------------------------------------

function membersTable(members) {
  return table([t('name'), t('relation'), t('birthDate'), t('idNumber'), t('phone')],
    (members || []).map((m) => typeof m === 'string' ? [m, '', '', '', ''] : [m.name, m.relation || '—', m.birth_date ? m.birth_date.slice(0, 4) + '-••-••' : '—', mask(m.id_number), mask(m.phone)]));
}
const problemsTable = (ps) => table([t('number'), t('description'), t('problemCategory'), t('handlingClass'), t('status'), t('assignee'), t('reportedAt')],
  (ps || []).map((p) => [p.number || p.id, p.description || '—', ev('pcat', p.category), ev('handling', p.handling_class), ev('pstatus', p.status), p.assignee || '—', fmtTime(p.reported_at)]));
const referralsTable = (rs) => table([t('to'), t('level'), t('status'), t('responsible'), t('due')],
  (rs || []).map((r) => [r.to || '—', ev('level', r.level), ev('rstatus', r.status), r.responsible || '—', fmtTime(r.due)]));

function changesList(changes) {
  return el('ul', { class: 'diff' }, (changes || []).map((c) => el('li', {}, `${c.field}: `, el('del', { text: c.before === '' ? '∅' : String(c.before) }), ' → ', el('ins', { text: c.after === '' ? '∅' : String(c.after) }))));
}

async function householdFile(id) {
  const res = await api('GET', `/v1/households/${encodeURIComponent(id)}`);
  const h = res.data;
  const parts = [
    el('h1', { text: h.address }),
    el('p', {}, canWrite() ? el('a', { class: 'btn', href: `#/household/${encodeURIComponent(id)}/visit`, id: 'record-visit', text: t('recordVisit') }) : null),
    el('section', { 'aria-labelledby': 'h-profile', class: 'card' }, el('h2', { id: 'h-profile', text: t('profile') }),
      table([t('community'), t('grid'), t('worker'), t('class'), t('category'), t('risk'), t('visitCount'), t('nextVisit'), t('version')],
        [[h.community, h.grid, h.worker, ev('class', h.class), ev('category', h.category), ev('risk', h.risk), h.visit_count, fmtTime(h.next_visit_due), h.version]])),
    el('section', { 'aria-labelledby': 'h-members' }, el('h2', { id: 'h-members', text: t('members') }), membersTable(h.members)),
    el('section', { 'aria-labelledby': 'h-problems' }, el('h2', { id: 'h-problems', text: t('problems') }), problemsTable(h.problems)),
    el('section', { 'aria-labelledby': 'h-referrals' }, el('h2', { id: 'h-referrals', text: t('referrals') }), el('div', { id: 'referrals-now' }, referralsTable(h.referrals))),
  ];
  if (!canAudit()) return [...parts, el('p', { class: 'muted', text: `${t('timeline')} / ${t('audit')}: ${t('notForRole')}` })];
  const box = el('div', { id: 'history' }, t('loading'));
  parts.push(box);
  // The history loads after the file is on screen.
  return { nodes: parts, after: async () => { try { box.replaceChildren(...await history(id)); } catch (e) { box.replaceChildren(errorBox(e)); } } };
}

// history: the time slider over the recorded instants of the audit trail,
// the timeline, and the audit trail with its differences.
async function history(id) {
  const trail = (await api('GET', `/v1/households/${encodeURIComponent(id)}/audit`)).data.entries;
  const stops = trail.map((e) => e.recorded_at);
  const out = el('output', { id: 'asof-at', for: 'slider' }, t('now'));
  const view = el('div', { id: 'asof-view' });
  const slider = el('input', { id: 'slider', type: 'range', min: 0, max: stops.length, step: 1, value: stops.length, 'aria-valuetext': t('now') });
  let seq = 0;
  slider.addEventListener('input', async () => {
    const i = Number(slider.value), mine = ++seq;
    if (i >= stops.length) { out.textContent = t('now'); slider.setAttribute('aria-valuetext', t('now')); view.replaceChildren(); view.dataset.at = ''; return; }
    const at = stops[i];
    out.textContent = fmtTime(at); slider.setAttribute('aria-valuetext', fmtTime(at));
    try {
      const r = (await api('GET', `/v1/households/${encodeURIComponent(id)}/as-of?at=${encodeURIComponent(at)}`)).data;
      if (mine !== seq) return;
      view.dataset.at = at;
      view.replaceChildren(el('h3', { text: `${t('asOf')} ${fmtTime(at)}` }),
        el('h4', { text: t('members') }), membersTable(r.household.members),
        el('h4', { text: t('problems') }), el('div', { id: 'asof-problems' }, problemsTable(r.problems)),
        el('h4', { text: t('referrals') }), el('div', { id: 'asof-referrals', 'data-count': (r.referrals || []).length }, referralsTable(r.referrals)));
    } catch (e) { if (mine === seq) view.replaceChildren(e.status === 404 ? el('p', { text: t('asOfNotRegistered') }) : errorBox(e)); }
  });
  const timeline = el('ol', { class: 'timeline', id: 'timeline' }, [...trail].reverse().map((e) => el('li', {},
    el('strong', { text: e.type }), ' — ', e.actor, ` (${e.role})`,
    el('div', { class: 'muted' }, `${t('occurred')}: ${fmtTime(e.occurred_at)} · ${t('recorded')}: ${fmtTime(e.recorded_at)}`),
    el('div', { text: e.summary || '' }))));
  const auditRows = trail.map((e) => [e.position, e.type, e.actor, fmtTime(e.occurred_at), fmtTime(e.recorded_at), changesList(e.changes)]);
  return [
    el('section', { 'aria-labelledby': 'h-slider', class: 'card' }, el('h2', { id: 'h-slider' }, el('label', { for: 'slider', text: t('timeSlider') })), slider, el('p', {}, `${t('asOf')}: `, out), view),
    el('section', { 'aria-labelledby': 'h-timeline' }, el('h2', { id: 'h-timeline', text: t('timeline') }), timeline),
    el('section', { 'aria-labelledby': 'h-audit' }, el('h2', { id: 'h-audit', text: t('audit') }), el('div', { id: 'audit' }, table(['#', t('kind'), t('who'), t('occurred'), t('recorded'), t('changes')], auditRows))),
    el('section', { 'aria-labelledby': 'h-chain' }, el('h2', { id: 'h-chain', text: t('chain') }), el('p', { class: 'muted', text: t('chainNA') })),
  ];
}

// ---- record a visit -----------------------------------------------------------

function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return 'console-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// The fields a conflict compares between the file the form was opened on
// and the file now.
const watched = ['address', 'community', 'grid', 'worker', 'class', 'category', 'risk', 'archived', 'visit_count', 'open_problems', 'open_referrals', 'consent'];

async function visitForm(id) {
  const res = await api('GET', `/v1/households/${encodeURIComponent(id)}`);
  const opened = res.data, etag = res.headers.get('ETag');
  const key = newKey(); // one key per form: submitting twice records one visit
  const local = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const opt = (name, vals) => el('select', { id: name, name }, vals.map((v) => el('option', { value: v, text: t(`${name}_${v}`) })));
  const ta = (name, label) => [el('label', { for: name, text: label }), el('textarea', { id: name, name })];
  const msg = el('div', { id: 'visit-msg', 'aria-live': 'assertive' });
  const form = el('form', { id: 'visit-form', 'data-key': key },
    el('h1', { text: `${t('recordVisit')} · ${opened.address}` }), msg,
    el('label', { for: 'team', text: t('team') }), el('input', { id: 'team', name: 'team', required: true, value: S.me.name }),
    el('label', { for: 'occurred', text: t('occurredAt') }), el('input', { id: 'occurred', name: 'occurred', type: 'datetime-local', required: true, value: local, max: local }),
    el('label', { for: 'mode', text: t('mode') }), opt('mode', ['home', 'phone', 'video', 'online']),
    el('label', { for: 'outcome', text: t('outcome') }), opt('outcome', ['completed', 'refused', 'nobody_home']),
    el('fieldset', {}, el('legend', { text: t('five') }), ta('health', t('health')), ta('economic', t('economic')), ta('support_obligations', t('supportObligations')),
      ta('home_safety', t('homeSafety')), ta('service_needs', t('serviceNeeds'))),
    ...ta('summary', t('summary')),
    el('p', {}, el('button', { type: 'submit', id: 'visit-save', text: t('save') }), ' ', el('a', { href: `#/household/${encodeURIComponent(id)}`, text: t('back') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { team: f.team.value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean), occurred_at: new Date(f.occurred.value).toISOString(),
      mode: f.mode.value, outcome: f.outcome.value, summary: f.summary.value || undefined };
    if (body.outcome === 'completed') for (const k of ['health', 'economic', 'support_obligations', 'home_safety', 'service_needs']) if (f[k].value) body[k] = f[k].value;
    const btn = $('visit-save'); btn.disabled = true;
    try {
      const r = await api('POST', `/v1/households/${encodeURIComponent(id)}/visits`, body, { 'Idempotency-Key': key, 'If-Match': etag });
      msg.replaceChildren(el('div', { class: 'notice', role: 'status', id: 'visit-saved' }, `${t('saved')} (${t('version')} ${r.data.version})`));
      status(t('saved'));
    } catch (e) {
      if (e.status === 412) msg.replaceChildren(await conflictBox(id, opened));
      else msg.replaceChildren(errorBox(e));
    } finally { btn.disabled = false; }
  });
  return [form];
}

// shown: a watched field's value as a person reads it.
const shown = (k, v) => (['class', 'category', 'risk'].includes(k) && v ? ev(k, v) : String(v ?? '∅'));

async function conflictBox(id, opened) {
  const now = (await api('GET', `/v1/households/${encodeURIComponent(id)}`)).data;
  const label = { address: t('address'), community: t('community'), grid: t('grid'), worker: t('worker'), class: t('class'), risk: t('risk'), visit_count: t('visitCount'), open_problems: t('openProblems') };
  const rows = watched.filter((k) => JSON.stringify(opened[k]) !== JSON.stringify(now[k]))
    .map((k) => [label[k] ? `${label[k]} (${k})` : k, shown(k, opened[k]), shown(k, now[k])]);
  rows.push([t('version'), String(opened.version), String(now.version)]);
  return el('div', { class: 'conflict', role: 'alert', id: 'conflict' }, el('strong', { text: t('conflictTitle') }), el('p', { text: t('conflictBody') }),
    table([t('field'), t('before'), t('after')], rows),
    el('p', {}, el('button', { type: 'button', onclick: () => route(), text: t('reloadForm') })));
}

// ---- worklists ----------------------------------------------------------------

// worklists: a worker's open problems and the return visits due; the
// referrals awaiting a receiver (a department, or a supervisor) with
// accept (a time limit) and decline (a reason). Each action carries its
// own idempotency key; the list is read again once the projection has
// the action (wait_for its position).
async function worklists(params, waitFor) {
  const w = waitFor ? `&wait_for=${encodeURIComponent(waitFor)}` : '';
  const receive = canReceive(), problems = S.me.role !== 'department';
  const [mine, awaiting, returns] = await Promise.all([
    S.me.role === 'worker' ? api('GET', `/v1/problems?status=open,in_progress&assignee=${encodeURIComponent(S.me.name)}&sort=due&limit=100${w}`) : null,
    receive ? api('GET', `/v1/referrals?status=requested&sort=due&limit=100${w}`) : null,
    problems ? api('GET', `/v1/problems?return_visit_due=true&sort=due&limit=100${w}`) : null,
  ]);
  const msg = el('div', { id: 'worklist-msg', 'aria-live': 'assertive' });
  // A department reads referrals, not household files: no link for it.
  const hhLink = (id, label) => (id && S.me.role !== 'department' ? el('a', { href: `#/household/${encodeURIComponent(id)}`, text: label || t('open') }) : label || '—');
  const problemRows = (ps) => ps.map((p) => [hhLink(p.household_id, p.number || p.id), ev('pcat', p.category), ev('pstatus', p.status), p.assignee || '—',
    el('span', { class: p.stage === 'breached' ? 'bad' : p.stage === 'approaching' ? 'warn' : '' }, fmtTime(p.due))]);
  const act = async (rf, what, body, btn) => {
    btn.disabled = true;
    try {
      const r = await api('POST', `/v1/referrals/${encodeURIComponent(rf.id)}/${what}`, body, { 'Idempotency-Key': btn.dataset.key });
      status(t('saved'));
      const out = await worklists(params, r.data.position);
      show(...out);
    } catch (e) { msg.replaceChildren(errorBox(e)); btn.disabled = false; }
  };
  const referralRow = (rf) => {
    const id = rf.id;
    const limit = el('input', { id: `limit-${id}`, name: 'time_limit', value: '5 working_days', size: 14 });
    const reason = el('input', { id: `reason-${id}`, name: 'reason', size: 14 });
    const accept = el('button', { type: 'button', id: `accept-${id}`, 'data-key': newKey(), text: t('accept') });
    accept.addEventListener('click', () => act(rf, 'accept', { responsible: S.me.name, time_limit: limit.value.trim() }, accept));
    const decline = el('button', { type: 'button', id: `decline-${id}`, 'data-key': newKey(), class: 'link', text: t('decline') });
    decline.addEventListener('click', () => {
      if (!reason.value.trim()) { msg.replaceChildren(el('div', { class: 'error', role: 'alert', text: t('reasonRequired') })); reason.focus(); return; }
      act(rf, 'decline', { reason: reason.value.trim() }, decline);
    });
    return [rf.department || '—', ev('level', rf.level), rf.community, rf.grid, hhLink(rf.household_id),
      el('span', { class: rf.stage === 'breached' ? 'bad' : rf.stage === 'approaching' ? 'warn' : '' }, fmtTime(rf.due)),
      el('span', {}, el('label', { for: `limit-${id}`, text: t('timeLimit') }), limit, ' ', accept),
      el('span', {}, el('label', { for: `reason-${id}`, text: t('reason') }), reason, ' ', decline)];
  };
  const parts = [el('h1', { text: t('worklists') }), msg];
  if (mine) parts.push(el('h2', { text: t('myOpenProblems') }), el('div', { id: 'my-problems' },
    table([t('number'), t('problemCategory'), t('status'), t('assignee'), t('due')], problemRows(mine.data.problems))));
  if (awaiting) parts.push(el('h2', { text: t('awaitingReferrals') }), el('div', { id: 'awaiting', 'data-count': awaiting.data.referrals.length },
    table([t('to'), t('level'), t('community'), t('grid'), t('household'), t('due'), t('accept'), t('decline')], awaiting.data.referrals.map(referralRow))));
  if (returns) parts.push(el('h2', { text: t('returnVisitsDue') }), el('div', { id: 'return-visits' },
    table([t('number'), t('problemCategory'), t('status'), t('assignee'), t('due')], problemRows(returns.data.problems))));
  return parts;
}

// ---- admin: users and tokens ---------------------------------------------------

async function adminScreen() {
  const [users, tokens] = await Promise.all([api('GET', '/v1/users'), api('GET', '/v1/tokens')]);
  const msg = el('div', { id: 'admin-msg', 'aria-live': 'assertive' });
  const act = (label, method, path, id) => el('button', { type: 'button', class: 'link', id, onclick: async () => {
    try { await api(method, path); status(t('saved')); route(); } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, label);
  const userRows = users.data.users.map((u) => [u.login, u.principal.name, t('role_' + u.principal.role),
    [...(u.principal.grids || []), ...(u.principal.communities || []), u.principal.department || ''].filter(Boolean).join('、'),
    t('state_' + u.state), u.failures, fmtTime(u.last_sign_in),
    u.state === 'disabled' ? act(t('enable'), 'POST', `/v1/users/${encodeURIComponent(u.login)}/enable`, `enable-${u.login}`)
      : act(t('disable'), 'POST', `/v1/users/${encodeURIComponent(u.login)}/disable`, `disable-${u.login}`)]);
  const tokenRows = tokens.data.tokens.filter((k) => !(k.created_by || '').startsWith('sign-in:')).map((k) => [k.id, k.principal.name, t('role_' + k.principal.role),
    t('state_' + k.state), fmtTime(k.expires_at), k.state === 'active' ? act(t('revoke'), 'POST', `/v1/tokens/${k.id}/revoke`, `revoke-${k.id}`) : '—']);
  const roles = ['worker', 'supervisor', 'auditor', 'department', 'integrator', 'admin'];
  const field = (id, label, attrs = {}) => [el('label', { for: id, text: label }), el('input', { id, name: id, ...attrs })];
  const form = el('form', { id: 'user-form', class: 'card', 'aria-labelledby': 'h-newuser' },
    el('h2', { id: 'h-newuser', text: t('newUser') }),
    ...field('nu-login', t('login'), { required: true, autocomplete: 'off', autocapitalize: 'none' }),
    ...field('nu-name', t('name'), { required: true }),
    el('label', { for: 'nu-role', text: t('role') }), el('select', { id: 'nu-role', name: 'nu-role' }, roles.map((r) => el('option', { value: r, text: t('role_' + r) }))),
    ...field('nu-scope', t('scopeHelp')),
    ...field('nu-password', t('password'), { type: 'password', required: true, autocomplete: 'new-password', minlength: 10 }),
    el('p', {}, el('button', { type: 'submit', id: 'nu-save', text: t('create') })));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements, role = f['nu-role'].value, scope = f['nu-scope'].value.split(/[,，、]/).map((x) => x.trim()).filter(Boolean);
    const body = { login: f['nu-login'].value.trim(), name: f['nu-name'].value.trim(), role, password: f['nu-password'].value };
    if (role === 'worker') body.grids = scope;
    if (role === 'supervisor' || role === 'integrator') body.communities = scope;
    if (role === 'department') body.department = scope[0] || '';
    try { await api('POST', '/v1/users', body); status(t('saved')); route(); } catch (e) { msg.replaceChildren(errorBox(e)); }
  });
  return [el('h1', { text: t('admin') }), msg,
    el('h2', { text: t('users') }), el('div', { id: 'users' }, table([t('login'), t('name'), t('role'), t('scope'), t('state'), t('failures'), t('lastSignIn'), ''], userRows)),
    form,
    el('h2', { text: t('tokens') }), table(['ID', t('name'), t('role'), t('state'), t('expires'), ''], tokenRows)];
}

// ---- routing --------------------------------------------------------------------

// route shows the screen of the URL fragment. Only the latest call
// renders: an answer that arrives after the reader moved on is dropped.
let generation = 0;
async function route() {
  const my = ++generation;
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let out;
  try {
    if (!S.me) await loadMe();
    if (!S.me) out = signInScreen();
    else if (seg[0] === 'dashboard' && canAudit()) out = await dashboard(params);
    else if (seg[0] === 'admin' && S.me.role === 'admin') out = await adminScreen();
    else if ((seg[0] === 'worklists' && hasWorklists()) || S.me.role === 'department') out = await worklists(params);
    else if (seg[0] === 'household' && seg[1] && seg[2] === 'visit') out = await visitForm(seg[1]);
    else if (seg[0] === 'household' && seg[1]) out = await householdFile(seg[1]);
    else if (seg[0] === 'households' || !canAudit()) out = await households(params);
    else out = await dashboard(params);
  } catch (e) {
    if (e.status === 401) { S.me = null; out = signInScreen(e); }
    // 404 is also the answer for a record outside the caller's scope (decision 0088).
    else out = [el('h1', { text: e.status === 403 ? t('noAccess') : e.status === 404 ? t('notFound') : t('error') }), errorBox(e)];
  }
  if (my !== generation) return;
  show(...(Array.isArray(out) ? out : out.nodes));
  if (out.after) out.after();
}

$('lang').addEventListener('click', () => { S.lang = S.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('lang', S.lang); route(); });
$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch { /* signed out anyway */ }
  S.me = null;
  if (location.hash === '' || location.hash === '#/') route(); else location.hash = '#/';
});
window.addEventListener('hashchange', route);
route();
