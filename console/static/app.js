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
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) e.setAttribute(k, v);
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

// txt: a value the API may answer plainly or as a sealed or masked
// marker (names may be sealed): shown as it is, or as masked.
const txt = (v) => (v === null || v === undefined || v === '' ? '—' : typeof v === 'object' ? (v.value !== undefined && !v.masked ? String(v.value) : mask(v)) : String(v));
// clear: a sensitive field as revealed (its value), else masked.
const clear = (v) => (v && v.value !== undefined && !v.masked && !v.erased ? el('span', { class: 'revealed', text: v.value }) : mask(v));

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
  if (S.me.role !== 'integrator') links.push([S.me.role === 'department' ? '#/ledger/referrals' : '#/ledger/problems', t('navLedgers')]);
  if (S.me.role === 'admin') links.push(['#/admin', t('navAdmin')]);
  const here = location.hash.split('?')[0] || '#/';
  for (const [href, label] of links) nav.append(el('a', { href, 'aria-current': here.startsWith(href) || (href.startsWith('#/ledger/') && here.startsWith('#/ledger/')) ? 'page' : null, text: label }));
}

function show(...nodes) {
  const main = $('main');
  main.replaceChildren(...nodes.filter((n) => n !== null && n !== undefined));
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

async function dashboard(params, waitFor) {
  const c = scopeChoice(params), w = waitFor ? `&wait_for=${encodeURIComponent(waitFor)}` : '', q = scopeQuery(c);
  const [counts, breached, approaching, measures, flags, rects] = await Promise.all([
    api('GET', '/v1/alerts/counts'),
    api('GET', `/v1/alerts?stage=breached&limit=100${q}${w}`),
    api('GET', `/v1/alerts?stage=approaching&limit=100${q}${w}`),
    api('GET', `/v1/measures?${q.slice(1)}`).catch((e) => ({ error: e })),
    api('GET', '/v1/measures/flags').catch((e) => ({ error: e })),
    api('GET', `/v1/rectifications?status=open&limit=100${q}${w}`).catch((e) => ({ error: e })),
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
  // Each breach names who must act (for a referral awaiting acceptance,
  // the receiving department; once accepted, the person it named) and who
  // supervises them (the community's or the department's supervisor).
  const alertRows = breached.data.alerts.map((a) => [
    t('kind_' + a.kind), a.community, a.grid, a.responsible || '—', a.supervisor || '—', el('span', { class: 'bad' }, fmtTime(a.due)),
    a.household_id ? el('a', { href: `#/household/${encodeURIComponent(a.household_id)}`, 'data-alert-kind': a.kind, 'data-stream': a.stream, text: t('open') }) : '—']);
  const parts = [
    el('h1', { text: t('dashboard') }),
    el('h2', { text: `${t('deadlines')} · ${t('byCommunity')}` }),
    table([t('community'), t('breached'), t('approaching')], counts.data.communities.map((c) => [c.community, el('span', { class: c.breached ? 'bad' : '' }, c.breached), c.approaching])),
    scopeSelect(c, 'dashboard'),
    el('h2', { text: `${t('deadlines')} · ${t('byGrid')}` }),
    table([t('community'), t('grid'), t('breached'), t('approaching'), t('responsible')], gridRows),
    el('h2', { text: t('breached') }),
    el('div', { id: 'breached' }, table([t('kind'), t('community'), t('grid'), t('responsible'), t('supervisor'), t('due'), t('household')], alertRows)),
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
  // The open rectification cases (整改事项) of the community, or the street.
  parts.push(el('h2', { text: t('openRectifications') }));
  if (rects.error) parts.push(errorBox(rects.error));
  else parts.push(el('div', { id: 'rectifications', 'data-count': rects.data.rectifications.length },
    table([t('community'), t('rectSource'), t('rectMeasure'), t('rectPeriods'), t('rectOpened'), t('due'), t('rectInterviews'), t('rectReviews')],
      rects.data.rectifications.map((r) => [r.community, S.lang === 'zh' ? r.source_zh : r.source, r.measure || '—', (r.periods || []).join('、') || '—', fmtTime(r.opened_at),
        el('span', { class: r.stage === 'breached' ? 'bad' : r.stage === 'approaching' ? 'warn' : '' }, fmtTime(r.due)), r.interviews, r.reviews]))));
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

// trendChart: the resolution rate month by month (the last 12) against
// the 80% target: one line per community when several are shown (an
// auditor's street), each with its colour in the legend and its column in
// the table; one line for a single community.
const TREND_COLOURS = ['#0b5cad', '#b3261e', '#1e7b34', '#8a4b00', '#6b3fa0', '#00707a', '#a0306b', '#4a5a00', '#5b5b5b', '#003f7f'];
function trendChart(rows) {
  const groups = [...new Set(rows.map((r) => r.group))].sort();
  const months = [...new Set(rows.map((r) => r.month))].sort().slice(-12);
  const rate = (g, m) => {
    const v = { num: 0, den: 0 };
    for (const r of rows) if (r.month === m && r.group === g) { v.num += r.resolution_rate?.num || 0; v.den += r.resolution_rate?.den || 0; }
    return v;
  };
  const title = t('trendTitle');
  const w = 560, h = 200, left = 36, right = 10, top = 10, bottom = 30, span = w - left - right, hh = h - top - bottom;
  const x = (i) => left + (months.length > 1 ? (i * span) / (months.length - 1) : span / 2);
  const y = (v) => top + (1 - v) * hh;
  const svg = svgEl('svg', { class: 'chart', viewBox: `0 0 ${w} ${h}`, role: 'img', 'aria-label': title, width: '100%', style: 'max-width:640px' });
  svg.append(svgEl('title', {}, title));
  for (const v of [0, 0.5, 1]) { const tx = svgEl('text', { x: left - 4, y: y(v) + 4, 'text-anchor': 'end' }); tx.textContent = `${v * 100}%`; svg.append(tx); }
  svg.append(svgEl('line', { class: 'target', x1: left, x2: w - right, y1: y(0.8), y2: y(0.8) }));
  groups.forEach((g, k) => {
    const colour = TREND_COLOURS[k % TREND_COLOURS.length];
    const pts = months.map((m, i) => { const r = rate(g, m); return r.den ? [x(i), y(r.num / r.den)] : null; }).filter(Boolean);
    if (pts.length) svg.append(svgEl('polyline', { 'data-group': g, points: pts.map((p) => p.join(',')).join(' '), fill: 'none', stroke: colour, 'stroke-width': 2,
      'stroke-dasharray': k >= TREND_COLOURS.length ? '6 3' : null }));
    for (const [cx, cy] of pts) svg.append(svgEl('circle', { cx, cy, r: 3, fill: colour }));
  });
  months.forEach((m, i) => { const tx = svgEl('text', { x: x(i), y: h - 10, 'text-anchor': 'middle' }); tx.textContent = m.slice(5); svg.append(tx); });
  const legend = groups.length > 1 ? el('ul', { class: 'legend', id: 'trend-legend' }, groups.map((g, k) => el('li', {},
    svgEl('svg', { width: 12, height: 12, 'aria-hidden': 'true' }, svgEl('rect', { width: 12, height: 12, fill: TREND_COLOURS[k % TREND_COLOURS.length] })), ` ${g || '—'}`))) : null;
  const list = table([t('month'), ...groups.map((g) => g || '—')], months.map((m) => [m, ...groups.map((g) => pct(rate(g, m)))]), title);
  return el('figure', { id: 'trend', 'data-lines': groups.length }, svg, legend, el('figcaption', { class: 'muted', text: title }), el('details', {}, el('summary', { text: t('asTable') }), list));
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
    el('a', { href: `#/household/${encodeURIComponent(h.household_id)}`, text: txt(h.address) }), h.grid, ev('risk', h.risk), h.open_problems, fmtTime(h.next_visit_due)]);
  return [el('h1', { text: t('households') }), scopeSelect(c, 'households'), form, table([t('address'), t('grid'), t('risk'), t('openProblems'), t('nextVisit')], rows)];
}

// ---- household file ---------------------------------------------------------

function membersTable(members, revealed) {
  const show = revealed ? clear : mask;
  return table([t('name'), t('relation'), t('birthDate'), t('idNumber'), t('phone')],
    (members || []).map((m) => typeof m === 'string' ? [m, '', '', '', ''] : [txt(m.name), txt(m.relation), m.birth_date ? m.birth_date.slice(0, 4) + '-••-••' : '—', show(m.id_number), show(m.phone)]));
}
const problemsTable = (ps, actions) => table([t('number'), t('description'), t('problemCategory'), t('handlingClass'), t('status'), t('assignee'), t('reportedAt'), ...(actions ? [t('actions')] : [])],
  (ps || []).map((p) => [p.number || p.id, txt(p.description), ev('pcat', p.category), ev('handling', p.handling_class), ev('pstatus', p.status), p.assignee || '—', fmtTime(p.reported_at),
    ...(actions ? [problemActions(p)] : [])]));
// problemActions: the records a writer can add to a problem.
function problemActions(p) {
  const id = encodeURIComponent(p.id), open = p.status === 'open' || p.status === 'in_progress';
  const links = [];
  if (open) links.push(el('a', { href: `#/problem/${id}/progress`, id: `progress-${p.id}`, text: t('noteProgress') }), el('a', { href: `#/problem/${id}/referral`, id: `refer-${p.id}`, text: t('refer') }));
  if (p.status === 'resolved') links.push(el('a', { href: `#/problem/${id}/revisit`, id: `revisit-${p.id}`, text: t('returnVisit') }));
  return links.length ? el('span', { class: 'actions' }, links) : '—';
}
const referralsTable = (rs) => table([t('to'), t('level'), t('status'), t('responsible'), t('due')],
  (rs || []).map((r) => [el('span', { 'data-referral': r.id, text: r.to || '—' }), ev('level', r.level), ev('rstatus', r.status), r.responsible || '—', fmtTime(r.due)]));

function changesList(changes) {
  return el('ul', { class: 'diff' }, (changes || []).map((c) => el('li', {}, `${c.field}: `, el('del', { text: c.before === '' ? '∅' : String(c.before) }), ' → ', el('ins', { text: c.after === '' ? '∅' : String(c.after) }))));
}

async function householdFile(id) {
  const res = await api('GET', `/v1/households/${encodeURIComponent(id)}`);
  const h = res.data;
  const parts = [
    el('h1', { text: txt(h.address) }),
    el('p', { class: 'actions' }, canWrite() ? el('a', { class: 'btn', href: `#/household/${encodeURIComponent(id)}/visit`, id: 'record-visit', text: t('recordVisit') }) : null,
      canWrite() ? el('a', { class: 'btn', href: `#/household/${encodeURIComponent(id)}/problem`, id: 'report-problem', text: t('reportProblem') }) : null),
    el('section', { 'aria-labelledby': 'h-profile', class: 'card' }, el('h2', { id: 'h-profile', text: t('profile') }),
      table([t('community'), t('grid'), t('worker'), t('class'), t('category'), t('risk'), t('visitCount'), t('nextVisit'), t('version')],
        [[h.community, h.grid, h.worker, ev('class', h.class), ev('category', h.category), ev('risk', h.risk), h.visit_count, fmtTime(h.next_visit_due), h.version]])),
    el('section', { 'aria-labelledby': 'h-members' }, el('h2', { id: 'h-members', text: t('members') }), revealBox(id), el('div', { id: 'members' }, membersTable(h.members))),
    el('section', { 'aria-labelledby': 'h-problems' }, el('h2', { id: 'h-problems', text: t('problems') }), problemsTable(h.problems, canWrite())),
    el('section', { 'aria-labelledby': 'h-referrals' }, el('h2', { id: 'h-referrals', text: t('referrals') }), el('div', { id: 'referrals-now' }, referralsTable(h.referrals))),
  ];
  if (!canAudit()) return [...parts, el('p', { class: 'muted', text: `${t('timeline')} / ${t('audit')}: ${t('notForRole')}` })];
  const box = el('div', { id: 'history' }, t('loading'));
  parts.push(box);
  // The history loads after the file is on screen.
  return { nodes: parts, after: async () => { try { box.replaceChildren(...await history(id)); } catch (e) { box.replaceChildren(errorBox(e)); } } };
}

// revealBox: the sensitive fields are masked (decision 0101); revealing
// them asks for the purpose, from the API's fixed list, and reads the file
// again with ?purpose= (the API records the reveal with its purpose, or
// refuses in both languages).
const purposes = ['visit_preparation', 'service_referral', 'audit', 'statutory_report'];
function revealBox(id) {
  const msg = el('div', { id: 'reveal-msg', 'aria-live': 'assertive' });
  const sel = el('select', { id: 'purpose', name: 'purpose' }, el('option', { value: '', text: t('choosePurpose') }), purposes.map((p) => el('option', { value: p, text: t('purpose_' + p) })));
  const form = el('form', { id: 'reveal-form', class: 'card', novalidate: true, 'aria-labelledby': 'h-reveal' },
    el('h3', { id: 'h-reveal', text: t('reveal') }), el('p', { class: 'muted', text: t('revealHelp') }), msg,
    el('label', { for: 'purpose', text: t('purpose') }), sel,
    el('p', {}, el('button', { type: 'submit', id: 'reveal-btn', text: t('reveal') })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = $('reveal-btn'); btn.disabled = true;
    try {
      // An empty purpose goes to the API too (reveal=true): its refusal,
      // purpose_required, is the message.
      const r = await api('GET', `/v1/households/${encodeURIComponent(id)}?reveal=true&purpose=${encodeURIComponent(sel.value)}`);
      $('members').replaceChildren(membersTable(r.data.members, true));
      msg.replaceChildren(el('div', { class: 'notice', role: 'status', id: 'revealed', text: `${t('revealedFor')}${t('purpose_' + sel.value)}` }));
    } catch (err) { msg.replaceChildren(errorBox(err)); } finally { btn.disabled = false; }
  });
  return form;
}

// history: the time slider over the recorded instants of the audit trail,
// the timeline, and the audit trail with its differences.
async function history(id) {
  const [trailRes, chain] = await Promise.all([api('GET', `/v1/households/${encodeURIComponent(id)}/audit`),
    api('GET', `/v1/households/${encodeURIComponent(id)}/chain`).catch((e) => ({ error: e }))]);
  const trail = trailRes.data.entries;
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
    el('section', { 'aria-labelledby': 'h-chain' }, el('h2', { id: 'h-chain', text: t('chain') }), chainView(chain)),
  ];
}

// chainView: the hash-chain verification of the file (GET
// /v1/households/{id}/chain): the household's, its problems' and its
// referrals' streams read again and every link recomputed.
function chainView(c) {
  if (c.error) return errorBox(c.error);
  const v = c.data;
  return el('div', { id: 'chain-result', 'data-verified': String(v.verified) },
    el('p', { class: v.verified ? '' : 'bad', text: v.verified ? `${t('chainVerified')}${v.events}` : t('chainBroken') }),
    table([t('chainStream'), t('chainEvents'), t('chainHead'), t('chainResult')], v.streams.map((s) => [s.stream, s.events, s.head ? `${s.head.slice(0, 16)}…` : '—',
      s.verified ? t('chainOK') : `${t('chainBrokenAt')}${s.broken_at}: ${s.reason}`])),
    el('p', { class: 'muted', text: `${t('checkedAt')}: ${fmtTime(v.checked_at)}` }));
}

// ---- record a visit -----------------------------------------------------------

function newKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return 'console-' + [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

// The fields a conflict compares between the file the form was opened on
// and the file now.
const watched = ['address', 'community', 'grid', 'worker', 'class', 'category', 'risk', 'archived', 'visit_count', 'open_problems', 'open_referrals', 'consent'];

// The visit as evidence (decision 0120): the team with roles (the signed-in
// person first, in the team role of their account), the purpose, the five
// understandings covered, the next contact and the check-in. What a
// completed home visit must record per household class is the API's to
// say: its refusal (visit_incomplete, naming everything missing) is shown
// at the field it names.
const teamRoles = ['grid_worker', 'community_secretary', 'community_cadre', 'social_worker', 'doctor', 'volunteer'];
const visitPurposes = ['routine', 'problem', 'needs_survey', 'festival', 'second_visit'];
const understandings = ['health', 'economic', 'support_obligations', 'home_safety', 'service_needs'];
const accountTeamRole = { worker: 'grid_worker', social_worker: 'social_worker', supervisor: 'community_cadre' };
const localInput = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

async function visitForm(id) {
  const res = await api('GET', `/v1/households/${encodeURIComponent(id)}`);
  const opened = res.data, etag = res.headers.get('ETag');
  let key = newKey(); // one key per form: submitting twice records one visit
  const local = localInput(new Date());
  const err = (eid) => el('div', { id: `${eid}-err`, class: 'field-err' });
  const input = (eid, label, attrs = {}) => [el('label', { for: eid, text: label }), el('input', { id: eid, name: eid, 'aria-describedby': `${eid}-err`, ...attrs }), err(eid)];
  const opt = (name, vals) => el('select', { id: name, name }, vals.map((v) => el('option', { value: v, text: t(`${name}_${v}`) })));
  const ta = (name, label) => [el('label', { for: name, text: label }), el('textarea', { id: name, name })];
  const msg = el('div', { id: 'visit-msg', 'aria-live': 'assertive' });
  // The team: one row per member, a name and a team role.
  const rows = el('ol', { id: 'members', class: 'members' });
  let n = 0;
  const memberRow = (person, role) => {
    const i = n++;
    const li = el('li', { class: 'member' },
      el('label', { for: `m-person-${i}`, text: t('memberName') }),
      el('input', { id: `m-person-${i}`, class: 'm-person', value: person || '', autocomplete: 'off', 'aria-describedby': 'team-err' }),
      el('label', { for: `m-role-${i}`, text: t('memberRole') }),
      el('select', { id: `m-role-${i}`, class: 'm-role' }, el('option', { value: '', text: t('choose') }),
        teamRoles.map((r) => el('option', { value: r, text: ev('teamrole', r), selected: r === role }))));
    if (i > 0) li.append(' ', el('button', { type: 'button', class: 'm-remove', id: `m-remove-${i}`, text: t('removeMember'), 'aria-label': `${t('removeMember')} ${i + 1}`,
      onclick: () => { li.remove(); $('m-add').focus(); } }));
    rows.append(li);
    return li;
  };
  memberRow(S.me.name, accountTeamRole[S.me.role] || '');
  const team = el('fieldset', { id: 'team', 'aria-describedby': 'team-err' }, el('legend', { text: t('visitTeam') }), rows, err('team'),
    el('p', {}, el('button', { type: 'button', id: 'm-add', text: t('addMember'), onclick: () => memberRow('', '').querySelector('input').focus() })));
  const covered = el('fieldset', { id: 'covered', 'aria-describedby': 'covered-err' }, el('legend', { text: t('coveredFive') }),
    understandings.map((u) => el('div', { class: 'check' }, el('input', { type: 'checkbox', id: `cov-${u}`, name: 'covered', value: u }), ' ', el('label', { for: `cov-${u}`, text: ev('understand', u) }))),
    err('covered'));
  const form = el('form', { id: 'visit-form', 'data-key': key, novalidate: true, 'aria-labelledby': 'visit-h' },
    el('h1', { id: 'visit-h', text: `${t('recordVisit')} · ${txt(opened.address)}` }), msg,
    team,
    ...input('occurred', t('occurredAt'), { type: 'datetime-local', required: true, value: local, max: local }),
    el('label', { for: 'mode', text: t('mode') }), opt('mode', ['home', 'phone', 'video', 'online']),
    el('label', { for: 'outcome', text: t('outcome') }), opt('outcome', ['completed', 'refused', 'nobody_home']),
    el('label', { for: 'vpurpose', text: t('visitPurpose') }),
    el('select', { id: 'vpurpose', name: 'vpurpose', 'aria-describedby': 'vpurpose-err' }, el('option', { value: '', text: t('choose') }), visitPurposes.map((p) => el('option', { value: p, text: ev('vpurpose', p) }))),
    err('vpurpose'),
    covered,
    el('fieldset', {}, el('legend', { text: t('fiveNotes') }), ta('health', t('health')), ta('economic', t('economic')), ta('support_obligations', t('supportObligations')),
      ta('home_safety', t('homeSafety')), ta('service_needs', t('serviceNeeds'))),
    el('fieldset', { id: 'next_contact' }, el('legend', { text: t('nextContact') }),
      ...input('nc-person', t('nextContactPerson'), { value: S.me.name, autocomplete: 'off' }), ...input('nc-at', t('nextContactAt'), { type: 'datetime-local' })),
    el('fieldset', { id: 'check_in' }, el('legend', { text: t('checkIn') }),
      ...input('ci-at', t('checkInAt'), { type: 'datetime-local', value: local }), ...input('ci-place', t('checkInPlace'), { autocomplete: 'off' })),
    ...ta('summary', t('summary')),
    el('p', {}, el('button', { type: 'submit', id: 'visit-save', text: t('save') }), ' ', el('a', { href: `#/household/${encodeURIComponent(id)}`, text: t('back') })));
  // Where the API's field names are shown.
  const at = { team: 'team', members: 'team', occurred_at: 'occurred', purpose: 'vpurpose', covered: 'covered',
    next_contact: 'nc-person', 'next_contact.person': 'nc-person', 'next_contact.at': 'nc-at', check_in: 'ci-place', 'check_in.at': 'ci-at', 'check_in.place': 'ci-place' };
  const iso = (v) => (v ? new Date(v).toISOString() : '');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    for (const x of form.querySelectorAll('.field-err')) x.textContent = '';
    const f = form.elements;
    const members = [...rows.querySelectorAll('li')].map((li) => ({ person: li.querySelector('.m-person').value.trim(), role: li.querySelector('.m-role').value }))
      .filter((m) => m.person || m.role);
    const body = { members, occurred_at: iso(f.occurred.value), mode: f.mode.value, outcome: f.outcome.value,
      purpose: f.vpurpose.value || undefined, summary: f.summary.value || undefined };
    if (body.outcome === 'completed') {
      const cov = [...form.querySelectorAll('input[name="covered"]:checked')].map((x) => x.value);
      if (cov.length) body.covered = cov;
      for (const k of understandings) if (f[k].value) body[k] = f[k].value;
    }
    const ncPerson = f['nc-person'].value.trim(), ncAt = f['nc-at'].value;
    if (ncAt) body.next_contact = { person: ncPerson, at: iso(ncAt) };
    const place = f['ci-place'].value.trim();
    if (place) body.check_in = { at: iso(f['ci-at'].value) || undefined, place };
    const btn = $('visit-save'); btn.disabled = true;
    try {
      const r = await api('POST', `/v1/households/${encodeURIComponent(id)}/visits`, body, { 'Idempotency-Key': key, 'If-Match': etag });
      msg.replaceChildren(el('div', { class: 'notice', role: 'status', id: 'visit-saved' }, `${t('saved')} (${t('version')} ${r.data.version})`,
        r.headers.get('Idempotent-Replayed') ? ` (${t('replayed')})` : ''));
      status(t('saved'));
    } catch (x) {
      // Refused (4xx): nothing was recorded and the key is bound to the
      // refused body, so the corrected form gets a new key (as recordForm).
      if (x.status >= 400 && x.status < 500 && x.problem?.code !== 'idempotency_key_in_flight') { key = newKey(); form.dataset.key = key; }
      if (x.status === 412) msg.replaceChildren(await conflictBox(id, opened));
      else {
        msg.replaceChildren(errorBox(x));
        const fid = at[x.problem?.field], fe = fid && $(fid);
        if (fe) {
          fe.setAttribute('aria-invalid', 'true'); $(`${fid}-err`).textContent = problemText(x);
          (fe.tagName === 'FIELDSET' ? fe.querySelector('input, select') : fe).focus();
        }
      }
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

// ---- record: a problem, a progress note, a referral, a return visit ----------

// fieldRow: a labelled input, select (options: [value, label]) or textarea.
function fieldRow(name, label, kind, opts = {}) {
  const attrs = { id: `f-${name}`, name, 'aria-describedby': `f-${name}-err`, ...(opts.attrs || {}) };
  const input = kind === 'textarea' ? el('textarea', attrs)
    : kind === 'select' ? el('select', attrs, opts.options.map(([v, l]) => el('option', { value: v, text: l })))
      : el('input', { type: kind || 'text', ...attrs });
  return [el('label', { for: `f-${name}`, text: label }), input, el('div', { id: `f-${name}-err`, class: 'field-err' })];
}

// recordForm: one form instance, one idempotency key (submitting twice
// records once); the API validates and its message is shown in the
// current language, at the field it names; 412 (If-Match) is a conflict,
// shown as what changed since the form was opened.
function recordForm({ formId, title, intro, fields, request, conflict, done }) {
  let key = newKey();
  const msg = el('div', { id: `${formId}-msg`, 'aria-live': 'assertive' });
  const form = el('form', { id: formId, 'data-key': key, novalidate: true, 'aria-labelledby': `${formId}-h` },
    el('h1', { id: `${formId}-h`, text: title }), intro || null, msg, ...fields,
    el('p', {}, el('button', { type: 'submit', id: `${formId}-save`, text: t('save') }), ' ', done.back));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const x of form.querySelectorAll('[aria-invalid]')) x.removeAttribute('aria-invalid');
    for (const x of form.querySelectorAll('.field-err')) x.textContent = '';
    const btn = $(`${formId}-save`); btn.disabled = true;
    const rq = request(form.elements);
    try {
      const r = await api('POST', rq.path, rq.body, { 'Idempotency-Key': key, ...(rq.ifMatch ? { 'If-Match': rq.ifMatch } : {}) });
      msg.replaceChildren(el('div', { class: 'notice', role: 'status', id: `${formId}-saved`, 'data-id': r.data.id, 'data-position': r.data.position }, `${t('saved')}`, r.headers.get('Idempotent-Replayed') ? ` (${t('replayed')})` : '', ' ', done.link(r.data)));
      status(t('saved'));
    } catch (err) {
      // The API refused (4xx): nothing was recorded, and the key is bound
      // to the refused body, so the corrected form gets a new key. A key
      // still in flight, or no answer at all, keeps it: the first request
      // may have been recorded.
      if (err.status >= 400 && err.status < 500 && err.problem?.code !== 'idempotency_key_in_flight') { key = newKey(); form.dataset.key = key; }
      if (err.status === 412 && conflict) msg.replaceChildren(await conflict());
      else {
        msg.replaceChildren(errorBox(err));
        const f = err.problem?.field && form.querySelector(`[name="${CSS.escape(err.problem.field)}"]`);
        if (f) { f.setAttribute('aria-invalid', 'true'); $(`${f.id}-err`).textContent = problemText(err); f.focus(); }
      }
    } finally { btn.disabled = false; }
  });
  return [form];
}

const enumOptions = (prefix, vals, blank) => [...(blank ? [['', t('choose')]] : []), ...vals.map((v) => [v, ev(prefix, v)])];
const pcats = ['policy', 'service', 'resource', 'psychological', 'living_security', 'health_medical', 'social_integration'];
const followUps = ['phone', 'home_visit', 'video', 'online', 'office'];

async function problemForm(id) {
  const hh = (await api('GET', `/v1/households/${encodeURIComponent(id)}`)).data;
  const back = el('a', { href: `#/household/${encodeURIComponent(id)}`, text: t('back') });
  return recordForm({
    formId: 'problem-form', title: `${t('reportProblem')} · ${txt(hh.address)}`,
    fields: [
      ...fieldRow('description', t('description'), 'textarea', { attrs: { 'aria-required': 'true' } }),
      ...fieldRow('category', t('problemCategory'), 'select', { options: enumOptions('pcat', pcats, true) }),
      ...fieldRow('handling_class', t('handlingClass'), 'select', { options: enumOptions('handling', ['immediate', 'coordinated', 'long_term'], true) }),
      ...fieldRow('colour', t('colour'), 'select', { options: enumOptions('colour', ['red', 'yellow', 'green'], true) }),
      ...fieldRow('urgency', t('urgency'), 'select', { options: enumOptions('urgency', ['ordinary', 'urgent'], true) }),
    ],
    request: (f) => ({ path: '/v1/problems', body: { household_id: id, description: f.description.value.trim(), category: f.category.value,
      handling_class: f.handling_class.value, colour: f.colour.value, urgency: f.urgency.value } }),
    done: { back, link: () => el('a', { href: `#/household/${encodeURIComponent(id)}`, text: t('backToFile') }) },
  });
}

// The problem's fields a conflict compares.
const problemWatched = ['status', 'assignee', 'description', 'category', 'handling_class', 'colour', 'urgency', 'due', 'time_limit', 'satisfaction', 'reopens', 'resolution'];
const problemShown = (k, v) => (k === 'status' ? ev('pstatus', v) : k === 'category' ? ev('pcat', v) : k === 'handling_class' ? ev('handling', v)
  : k === 'colour' ? ev('colour', v) : k === 'urgency' ? ev('urgency', v) : k === 'due' ? fmtTime(v) : String(v ?? '∅'));

async function problemConflict(id, opened) {
  const now = (await api('GET', `/v1/problems/${encodeURIComponent(id)}`)).data;
  const label = { status: t('status'), assignee: t('assignee'), description: t('description'), category: t('problemCategory'), handling_class: t('handlingClass'),
    colour: t('colour'), urgency: t('urgency'), due: t('due'), time_limit: t('timeLimit'), satisfaction: t('satisfaction'), resolution: t('resolution') };
  const rows = problemWatched.filter((k) => JSON.stringify(opened[k]) !== JSON.stringify(now[k]))
    .map((k) => [label[k] ? `${label[k]} (${k})` : k, problemShown(k, opened[k]), problemShown(k, now[k])]);
  rows.push([t('version'), String(opened.version), String(now.version)]);
  return el('div', { class: 'conflict', role: 'alert', id: 'conflict' }, el('strong', { text: t('conflictTitle') }), el('p', { text: t('conflictBody') }),
    table([t('field'), t('before'), t('after')], rows),
    el('p', {}, el('button', { type: 'button', onclick: () => route(), text: t('reloadForm') })));
}

// problemAction: a progress note, a referral or a return visit on one
// problem, the problem read first (its ETag is the form's If-Match).
async function problemAction(id, what) {
  const res = await api('GET', `/v1/problems/${encodeURIComponent(id)}`);
  const pb = res.data, etag = res.headers.get('ETag');
  const file = `#/household/${encodeURIComponent(pb.household_id)}`;
  const back = el('a', { href: file, text: t('back') });
  const intro = el('p', { class: 'card', id: 'problem-summary' }, `${pb.number} · ${ev('pcat', pb.category)} · ${ev('pstatus', pb.status)} · `, txt(pb.description));
  const done = { back, link: () => el('a', { href: file, text: t('backToFile') }) };
  const conflict = () => problemConflict(id, pb);
  if (what === 'progress') return recordForm({
    formId: 'progress-form', title: t('noteProgress'), intro, conflict, done,
    fields: [...fieldRow('note', t('note'), 'textarea', { attrs: { 'aria-required': 'true' } }),
      ...fieldRow('follow_up', t('followUp'), 'select', { options: enumOptions('follow', followUps) })],
    request: (f) => ({ path: `/v1/problems/${encodeURIComponent(id)}/progress`, ifMatch: etag, body: { note: f.note.value.trim(), follow_up: f.follow_up.value } }),
  });
  if (what === 'referral') return recordForm({
    formId: 'referral-form', title: t('refer'), intro, done,
    fields: [...fieldRow('level', t('level'), 'select', { options: enumOptions('level', ['community', 'street', 'department']) }),
      ...fieldRow('to', t('to'), 'text', { attrs: { 'aria-required': 'true' } }),
      ...fieldRow('request', t('requestText'), 'textarea', { attrs: { 'aria-required': 'true' } })],
    request: (f) => ({ path: '/v1/referrals', body: { problem_id: id, level: f.level.value, to: f.to.value.trim(), request: f.request.value.trim() } }),
  });
  return recordForm({
    formId: 'revisit-form', title: t('returnVisit'), intro, conflict, done,
    fields: [...fieldRow('held', t('held'), 'select', { options: [['', t('choose')], ['true', t('yes')], ['false', t('no')]] }),
      ...fieldRow('method', t('followUp'), 'select', { options: enumOptions('follow', followUps) }),
      ...fieldRow('satisfaction', t('satisfactionScore'), 'select', { options: [['', t('choose')], ...[5, 4, 3, 2, 1].map((n) => [String(n), String(n)])] }),
      ...fieldRow('note', t('note'), 'textarea')],
    request: (f) => ({ path: `/v1/problems/${encodeURIComponent(id)}/revisit`, ifMatch: etag,
      body: { held: f.held.value === '' ? undefined : f.held.value === 'true', method: f.method.value, note: f.note.value.trim() || undefined,
        satisfaction: f.satisfaction.value ? Number(f.satisfaction.value) : undefined } }),
  });
}

// ---- ledgers: problems, referrals and visits ---------------------------------------

// The ledgers read the worklist routes (GET /v1/problems, /v1/referrals)
// and the visits ledger (GET /v1/visits, decision 0143): filtered, sorted
// and paged by the API; the export reads every page of the same query
// (bounded) and writes CSV in the browser. A filter is [name, label,
// kind ('select' or 'date'; text otherwise), values, label prefix].
const LEDGER_PAGE = 25, EXPORT_MAX = 20000;
const worklistFilters = (statuses, sp, who) => [['status', 'status', 'select', statuses, sp], ['stage', 'deadlineStage', 'select', ['approaching', 'breached', 'none'], 'stage'],
  ['community', 'community'], ['grid', 'grid'], ['assignee', who], ['created_from', 'createdFrom', 'date'], ['created_to', 'createdTo', 'date']];
const ledgers = {
  problems: {
    path: '/v1/problems', list: 'problems', sort: '-created', filters: worklistFilters(['open', 'in_progress', 'resolved', 'closed'], 'pstatus', 'assignee'),
    cols: [['number', (p) => p.number], ['community', (p) => p.community], ['grid', (p) => p.grid], ['problemCategory', (p) => ev('pcat', p.category)],
      ['handlingClass', (p) => ev('handling', p.handling_class)], ['status', (p) => ev('pstatus', p.status)], ['assignee', (p) => p.assignee],
      ['created', (p) => fmtTime(p.reported_at), 'created'], ['due', (p) => fmtTime(p.due), 'due'], ['deadlineStage', (p) => ev('stage', p.stage)], ['updated', (p) => fmtTime(p.updated_at), 'updated']],
  },
  referrals: {
    path: '/v1/referrals', list: 'referrals', sort: '-created', filters: worklistFilters(['requested', 'accepted', 'declined', 'in_progress', 'completed', 'cancelled'], 'rstatus', 'responsible'),
    cols: [['to', (r) => r.department], ['level', (r) => ev('level', r.level)], ['community', (r) => r.community], ['grid', (r) => r.grid],
      ['status', (r) => ev('rstatus', r.status)], ['responsible', (r) => r.responsible], ['created', (r) => fmtTime(r.requested_at), 'created'],
      ['due', (r) => fmtTime(r.due), 'due'], ['deadlineStage', (r) => ev('stage', r.stage)], ['updated', (r) => fmtTime(r.updated_at), 'updated']],
  },
  visits: {
    path: '/v1/visits', list: 'visits', sort: '-occurred',
    filters: [['outcome', 'outcome', 'select', ['completed', 'refused', 'nobody_home'], 'outcome'], ['mode', 'mode', 'select', ['home', 'phone', 'video', 'online'], 'mode'],
      ['community', 'community'], ['grid', 'grid'], ['member', 'teamMember'], ['late', 'lateEntry', 'select', ['true', 'false'], 'late'],
      ['occurred_from', 'occurredFrom', 'date'], ['occurred_to', 'occurredTo', 'date']],
    cols: [['occurredAt', (v) => fmtTime(v.occurred_at), 'occurred'], ['community', (v) => v.community], ['grid', (v) => v.grid], ['visitTeam', (v) => v.team.join('、')],
      ['mode', (v) => ev('mode', v.mode)], ['outcome', (v) => ev('outcome', v.outcome)], ['lateEntry', (v) => ev('late', String(v.late))],
      ['recordedBy', (v) => v.by], ['recorded', (v) => fmtTime(v.recorded_at), 'recorded']],
  },
};
const mayLedger = (kind) => S.me.role !== 'integrator' && (kind === 'referrals' || S.me.role !== 'department');

function ledgerQuery(L, params, sort, limit, offset) {
  const q = new URLSearchParams();
  for (const [k, , kind] of L.filters) {
    const v = params.get(k);
    if (!v) continue;
    // Dates from the form are days in China's time, both inclusive: the
    // API wants RFC 3339 instants, the end exclusive (the next day's start).
    if (kind === 'date' && k.endsWith('_to')) q.set(k, new Date(Date.parse(`${v}T00:00:00+08:00`) + 86400000).toISOString());
    else q.set(k, kind === 'date' ? `${v}T00:00:00+08:00` : v);
  }
  q.set('sort', sort); q.set('limit', limit); q.set('offset', offset);
  return q.toString();
}

async function ledger(kind, params, waitFor) {
  const L = ledgers[kind];
  const sort = params.get('sort') || L.sort, offset = Math.max(0, Number(params.get('offset')) || 0);
  const res = await api('GET', `${L.path}?${ledgerQuery(L, params, sort, LEDGER_PAGE, offset)}${waitFor ? `&wait_for=${encodeURIComponent(waitFor)}` : ''}`);
  const rows = res.data[L.list];
  const go = (changes) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) if (v === '' || v === null) p.delete(k); else p.set(k, v);
    location.hash = `#/ledger/${kind}?${p}`;
  };
  // Filters.
  const sel = (name, vals, prefix) => el('select', { id: `lf-${name}`, name }, el('option', { value: '', text: t('all') }),
    vals.map((v) => el('option', { value: v, selected: params.get(name) === v, text: ev(prefix, v) })));
  const inp = (name, type) => el('input', { id: `lf-${name}`, name, type: type || 'text', value: params.get(name) || '' });
  const lab = (name, label, input) => el('div', {}, el('label', { for: `lf-${name}`, text: label }), input);
  const filters = el('form', { id: 'ledger-filter', class: 'card filters', 'aria-labelledby': 'h-filter' },
    el('h2', { id: 'h-filter', text: t('filter') }),
    el('div', { class: 'grid2' }, L.filters.map(([name, label, k, vals, prefix]) => lab(name, t(label), k === 'select' ? sel(name, vals, prefix) : inp(name, k)))),
    el('p', {}, el('button', { type: 'submit', id: 'ledger-apply', text: t('apply') }), ' ', el('a', { href: `#/ledger/${kind}`, text: t('clear') })));
  filters.addEventListener('submit', (e) => {
    e.preventDefault();
    const ch = { offset: '' };
    for (const [k] of L.filters) ch[k] = filters.elements[k].value.trim();
    go(ch);
  });
  // Sortable headers: a button in each sortable column's header.
  const base = sort.replace(/^-/, ''), desc = sort.startsWith('-');
  const th = ([key, , s]) => {
    if (!s) return el('th', { scope: 'col', text: t(key) });
    const here = base === s, next = s === 'updated' ? '-updated' : here && !desc ? `-${s}` : s;
    return el('th', { scope: 'col', 'aria-sort': here ? (desc ? 'descending' : 'ascending') : 'none' },
      el('button', { type: 'button', class: 'link sort', id: `sort-${s}`, onclick: () => go({ sort: next, offset: '' }) }, t(key), here ? (desc ? ' ▼' : ' ▲') : ''));
  };
  const link = (r) => (r.household_id && S.me.role !== 'department' ? el('a', { href: `#/household/${encodeURIComponent(r.household_id)}`, text: t('open') }) : '—');
  const tbl = el('div', { class: 'scroll' }, el('table', { id: 'ledger-table', 'data-rows': rows.length },
    el('caption', { class: 'muted', text: `${t(kind)} · ${t('rows')}: ${rows.length ? offset + 1 : 0}–${offset + rows.length}` }),
    el('thead', {}, el('tr', {}, L.cols.map(th), el('th', { scope: 'col', text: t('household') }))),
    el('tbody', {}, rows.length ? rows.map((r) => el('tr', { 'data-id': r.id }, L.cols.map(([, f]) => el('td', {}, f(r) || '—')), el('td', {}, link(r))))
      : el('tr', {}, el('td', { colspan: L.cols.length + 1, text: t('none') })))));
  const pager = el('nav', { class: 'pager', 'aria-label': t('pages') },
    el('button', { type: 'button', id: 'page-prev', disabled: offset === 0, onclick: () => go({ offset: String(Math.max(0, offset - LEDGER_PAGE)) }) }, t('prevPage')),
    el('span', { class: 'muted' }, ` ${t('page')} ${Math.floor(offset / LEDGER_PAGE) + 1} `),
    el('button', { type: 'button', id: 'page-next', disabled: rows.length < LEDGER_PAGE, onclick: () => go({ offset: String(offset + LEDGER_PAGE) }) }, t('nextPage')));
  const msg = el('div', { id: 'export-msg', 'aria-live': 'polite' });
  const exp = el('button', { type: 'button', id: 'export', onclick: async () => {
    exp.disabled = true;
    try {
      const n = await exportCSV(kind, params, sort);
      msg.replaceChildren(el('div', { class: 'notice', role: 'status', id: 'exported', 'data-rows': n, text: `${t('exported')} ${n}` }));
    } catch (e) { msg.replaceChildren(errorBox(e)); } finally { exp.disabled = false; }
  } }, t('exportCSV'));
  const tabs = el('nav', { class: 'tabs', 'aria-label': t('navLedgers') }, Object.keys(ledgers).filter(mayLedger).map((k) =>
    el('a', { href: `#/ledger/${k}`, 'aria-current': k === kind ? 'page' : null, text: t(k) })));
  return [el('h1', { text: `${t('navLedgers')} · ${t(kind)}` }), tabs, filters, el('p', {}, exp), msg, tbl, pager];
}

// exportCSV: every row of the ledger's query, page by page (at most
// EXPORT_MAX), as a CSV file (UTF-8 with a byte-order mark, for Excel).
async function exportCSV(kind, params, sort) {
  const L = ledgers[kind], all = [];
  for (let off = 0; off < EXPORT_MAX; off += 500) {
    const page = (await api('GET', `${L.path}?${ledgerQuery(L, params, sort, 500, off)}`)).data[L.list];
    all.push(...page);
    if (page.length < 500) break;
  }
  const rows = all.slice(0, EXPORT_MAX);
  const keys = rows.length ? Object.keys(rows[0]) : ['id'];
  const cell = (v) => { const s = v === undefined || v === null ? '' : String(v); return /[",\r\n]/.test(s) || /^[=+\-@]/.test(s) ? `"${(/^[=+\-@]/.test(s) ? "'" : '') + s.replace(/"/g, '""')}"` : s; };
  const csv = '\ufeff' + [keys.join(','), ...rows.map((r) => keys.map((k) => cell(r[k])).join(','))].join('\r\n') + '\r\n';
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: `${kind}.csv`, hidden: true });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return rows.length;
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
  const [mine, awaiting, returns, visits] = await Promise.all([
    S.me.role === 'worker' ? api('GET', `/v1/problems?status=open,in_progress&assignee=${encodeURIComponent(S.me.name)}&sort=due&limit=100${w}`) : null,
    receive ? api('GET', `/v1/referrals?status=requested&sort=due&limit=100${w}`) : null,
    problems ? api('GET', `/v1/problems?return_visit_due=true&sort=due&limit=100${w}`) : null,
    // Households whose next visit falls due within 7 days, overdue ones
    // included, soonest first (GET /v1/visits/due, the caller's scope).
    problems ? api('GET', `/v1/visits/due?within=7d&limit=100${w}`) : null,
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
  if (visits) {
    const now = Date.now();
    parts.push(el('h2', { text: t('visitsDueThisWeek') }), el('div', { id: 'visits-due', 'data-count': visits.data.households.length },
      table([t('address'), t('community'), t('grid'), t('worker'), t('class'), t('nextVisit')], visits.data.households.map((h) => [hhLink(h.household_id, txt(h.address)),
        h.community, h.grid, h.worker || '—', ev('class', h.class),
        el('span', { class: Date.parse(h.next_visit_due) < now ? 'bad' : 'warn' }, fmtTime(h.next_visit_due))]))));
  }
  if (returns) parts.push(el('h2', { text: t('returnVisitsDue') }), el('div', { id: 'return-visits' },
    table([t('number'), t('problemCategory'), t('status'), t('assignee'), t('due')], problemRows(returns.data.problems))));
  return parts;
}

// ---- admin: users and tokens ---------------------------------------------------

async function adminScreen() {
  const [users, tokens, cal, hooks] = await Promise.all([api('GET', '/v1/users'), api('GET', '/v1/tokens'),
    api('GET', '/v1/calendar').catch((e) => ({ error: e })), api('GET', '/v1/webhooks').catch((e) => ({ error: e }))]);
  const msg = el('div', { id: 'admin-msg', 'aria-live': 'assertive' });
  const act = (label, method, path, id) => el('button', { type: 'button', class: 'link', id, onclick: async () => {
    try { await api(method, path); status(t('saved')); route(); } catch (e) { msg.replaceChildren(errorBox(e)); }
  } }, label);
  const userRows = users.data.users.map((u) => [u.login, u.principal.name, t('role_' + u.principal.role),
    [...(u.principal.grids || []), ...(u.principal.communities || []), u.principal.department || ''].filter(Boolean).join('、'),
    t('state_' + u.state), u.failures, fmtTime(u.last_sign_in), fmtTime(u.expires_at),
    u.state === 'disabled' ? act(t('enable'), 'POST', `/v1/users/${encodeURIComponent(u.login)}/enable`, `enable-${u.login}`)
      : act(t('disable'), 'POST', `/v1/users/${encodeURIComponent(u.login)}/disable`, `disable-${u.login}`)]);
  const shownTokens = tokens.data.tokens.filter((k) => !(k.created_by || '').startsWith('sign-in:'));
  const tokenRows = shownTokens.map((k) => [k.id, k.principal.name, t('role_' + k.principal.role),
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
  // Expiry of a user or a token: a day (from its start, China time), or
  // empty for never.
  const expiry = el('form', { id: 'expiry-form', class: 'card', novalidate: true, 'aria-labelledby': 'h-expiry' },
    el('h2', { id: 'h-expiry', text: t('setExpiry') }),
    el('label', { for: 'exp-target', text: t('expiryOf') }), el('select', { id: 'exp-target', name: 'exp-target' },
      users.data.users.map((u) => el('option', { value: `/v1/users/${encodeURIComponent(u.login)}/expiry`, text: `${t('user')} ${u.login}` })),
      shownTokens.filter((k) => k.state === 'active').map((k) => el('option', { value: `/v1/tokens/${k.id}/expiry`, text: `${t('token')} ${k.id} (${k.principal.name})` }))),
    el('label', { for: 'exp-date', text: t('expiresOn') }), el('input', { id: 'exp-date', name: 'exp-date', type: 'date' }),
    el('p', {}, el('button', { type: 'submit', id: 'exp-save', text: t('save') })));
  expiry.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const d = expiry.elements['exp-date'].value;
    try { await api('POST', expiry.elements['exp-target'].value, { expires_at: d ? `${d}T00:00:00+08:00` : '' }); status(t('saved')); route(); } catch (e) { msg.replaceChildren(errorBox(e)); }
  });
  const calendar = cal.error ? errorBox(cal.error) : el('div', { id: 'calendar' },
    el('p', { class: 'muted', text: `${t('coveredUntil')}: ${fmtTime(cal.data.covered_until)}${cal.data.provisional_deadlines !== undefined ? ` · ${t('provisionalDeadlines')}: ${cal.data.provisional_deadlines}` : ''}` }),
    table([t('year'), t('source'), t('notice'), t('holidays'), t('makeupDays')], (cal.data.years || []).map((y) => [String(y.year), y.source || '—',
      y.notice ? `${y.notice.title || ''} ${y.notice.number || ''}`.trim() : '—', (y.off || []).length, (y.work || []).length])));
  const webhooks = hooks.error ? errorBox(hooks.error) : el('div', { id: 'webhooks' }, table([t('id'), 'URL', t('types'), t('community'), t('grant'), t('checkpoint'), ''],
    (hooks.data.webhooks || []).map((w) => [w.id, w.url, (w.types || []).join(', ') || t('all'), (w.communities || []).join('、') || t('all'),
      w.grant ? t('purpose_' + w.grant.purpose) : '—', w.position || '—', act(t('delete'), 'POST', `/v1/webhooks/${encodeURIComponent(w.id)}/delete`, `delete-${w.id}`)])));
  return [el('h1', { text: t('admin') }), msg,
    el('h2', { text: t('users') }), el('div', { id: 'users' }, table([t('login'), t('name'), t('role'), t('scope'), t('state'), t('failures'), t('lastSignIn'), t('expires'), ''], userRows)),
    form,
    el('h2', { text: t('tokens') }), el('div', { id: 'tokens' }, table(['ID', t('name'), t('role'), t('state'), t('expires'), ''], tokenRows)),
    expiry,
    el('h2', { text: t('calendarYears') }), calendar,
    el('h2', { text: t('subscriptions') }), webhooks];
}

// ---- live updates ----------------------------------------------------------------

// The pages that stay open (dashboard, worklists, ledgers) follow the
// event stream, GET /v1/events, from the log's head (GET /readyz), and
// read themselves again once the read model has the event (wait_for its
// position). The stream is read with fetch (its events are named by type,
// which EventSource would need a listener per type for). Only the roles
// the stream admits follow it (supervisors, auditors, administrators,
// workers for their grids, decision 0129, and departments for the
// referrals addressed to them, decision 0144).
const LIVE = { ctl: null, screen: '', last: '', timer: 0 };
const streamRole = () => ['supervisor', 'auditor', 'admin', 'worker', 'department'].includes(S.me?.role);

function stopLive() { if (LIVE.ctl) LIVE.ctl.abort(); LIVE.ctl = null; delete $('main').dataset.live; LIVE.screen = ''; clearTimeout(LIVE.timer); }

async function startLive(screen) {
  if (LIVE.ctl && LIVE.screen === screen) return;
  stopLive();
  if (!streamRole()) return;
  const ctl = new AbortController();
  LIVE.ctl = ctl; LIVE.screen = screen;
  let after = '';
  try { after = (await api('GET', '/readyz')).data.head; } catch { return; }
  let wait = 2000;
  while (!ctl.signal.aborted) {
    try {
      const res = await fetch(`/v1/events?category=household,problem,referral&after=${encodeURIComponent(after)}`, { signal: ctl.signal, credentials: 'same-origin', headers: { Accept: 'text/event-stream' } });
      // Signed out or not admitted: stop; refused for load (429, 503):
      // try again later, less and less often.
      if (res.status === 401 || res.status === 403) return;
      if (!res.ok || !res.body) throw new Error(String(res.status));
      if (ctl.signal.aborted) return;
      wait = 2000;
      $('main').dataset.live = 'on';
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const id = block.split('\n').find((l) => l.startsWith('id: '));
          if (id) { after = id.slice(4); liveEvent(after); }
        }
      }
    } catch { if (ctl.signal.aborted) return; }
    // The stream ended (a restart, a refusal): follow again from the last event.
    if (ctl.signal.aborted) return;
    delete $('main').dataset.live;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 60000);
  }
}

// liveEvent: a burst of events is one reading, a moment after the last;
// a reader typing in the page is not interrupted (the reading waits until
// the focus leaves the field).
function liveEvent(position) {
  LIVE.last = position;
  clearTimeout(LIVE.timer);
  LIVE.timer = setTimeout(function again() {
    const a = document.activeElement;
    if (a && $('main').contains(a) && ['INPUT', 'SELECT', 'TEXTAREA'].includes(a.tagName)) { LIVE.timer = setTimeout(again, 1000); return; }
    route(LIVE.last);
  }, 300);
}

// ---- routing --------------------------------------------------------------------

// route shows the screen of the URL fragment. Only the latest call
// renders: an answer that arrives after the reader moved on is dropped.
let generation = 0;
async function route(liveAt) {
  const my = ++generation;
  liveAt = typeof liveAt === 'string' ? liveAt : '';
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
  let out, follows = false;
  try {
    if (!S.me) await loadMe();
    if (!S.me) out = signInScreen();
    else if (seg[0] === 'dashboard' && canAudit()) { out = await dashboard(params, liveAt); follows = true; }
    else if (seg[0] === 'admin' && S.me.role === 'admin') out = await adminScreen();
    else if (seg[0] === 'ledger' && ledgers[seg[1] || 'problems'] && mayLedger(seg[1] || 'problems')) { out = await ledger(seg[1] || 'problems', params, liveAt); follows = true; }
    else if ((seg[0] === 'worklists' && hasWorklists()) || S.me.role === 'department') { out = await worklists(params, liveAt); follows = true; }
    else if (seg[0] === 'household' && seg[1] && seg[2] === 'visit') out = await visitForm(seg[1]);
    else if (seg[0] === 'household' && seg[1] && seg[2] === 'problem' && canWrite()) out = await problemForm(seg[1]);
    else if (seg[0] === 'problem' && seg[1] && ['progress', 'referral', 'revisit'].includes(seg[2]) && canWrite()) out = await problemAction(seg[1], seg[2]);
    else if (seg[0] === 'household' && seg[1]) out = await householdFile(seg[1]);
    else if (seg[0] === 'households' || !canAudit()) out = await households(params);
    else { out = await dashboard(params, liveAt); follows = true; }
  } catch (e) {
    if (e.status === 401) { S.me = null; out = signInScreen(e); }
    // 404 is also the answer for a record outside the caller's scope (decision 0088).
    else out = [el('h1', { text: e.status === 403 ? t('noAccess') : e.status === 404 ? t('notFound') : t('error') }), errorBox(e)];
  }
  if (my !== generation) return;
  const screen = `${seg[0] || ''}/${seg[1] || ''}`;
  // A screen may leave a slot empty (null: no scope choice for one
  // community); replaceChildren would write it as the text "null".
  const nodes = (Array.isArray(out) ? out : out.nodes).filter((n) => n !== null && n !== undefined);
  if (liveAt) {
    // A reading after an event: the page in place, the focus and the
    // scroll kept, the change announced politely.
    const y = window.scrollY;
    $('main').replaceChildren(...nodes);
    window.scrollTo(0, y);
    $('main').dataset.position = liveAt;
    status(t('liveUpdated'));
  } else { show(...nodes); delete $('main').dataset.position; }
  if (out.after) out.after();
  if (follows && S.me) startLive(screen); else stopLive();
}

$('lang').addEventListener('click', () => { S.lang = S.lang === 'zh' ? 'en' : 'zh'; localStorage.setItem('lang', S.lang); route(); });
$('signout').addEventListener('click', async () => {
  try { await api('DELETE', '/v1/session'); } catch { /* signed out anyway */ }
  S.me = null;
  stopLive();
  if (location.hash === '' || location.hash === '#/') route(); else location.hash = '#/';
});
window.addEventListener('hashchange', route);
route();
