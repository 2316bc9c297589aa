// ferromq's web console: one page per hash (#cluster, #topics, ...), each drawn from the JSON API
// under /api/. Every value from the broker is put in the page as text (textContent, never HTML),
// so message bodies, keys and names cannot inject markup.
'use strict';

const $page = () => document.getElementById('page');

// el('td', {class: 'num'}, 'text', otherNode): an element with attributes and children; strings
// become text nodes, functions under on* become listeners.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function status(text, kind) {
  const s = document.getElementById('status');
  s.textContent = text || '';
  s.className = text ? kind : '';
}

async function api(path, options = {}) {
  const init = { method: options.method || 'GET', headers: {} };
  if (options.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  const r = await fetch('/api' + path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
  if (!r.ok) throw new Error((data && data.error) || `HTTP ${r.status}`);
  return data;
}

// Runs a state-changing call and reports its outcome; then redraws the page.
async function act(what, fn) {
  try {
    await fn();
    status(what + ': done', 'ok');
  } catch (e) {
    status(what + ' failed: ' + e.message, 'error');
    return;
  }
  await render(false);
}

const fmtTime = ms => (ms > 0 ? new Date(ms).toISOString().replace('T', ' ').replace('Z', '') : '');
const fmtAge = ms => {
  if (!ms) return '0 s';
  const s = ms / 1000;
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
};
const fmtBytes = n => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + units[i];
};
const fmtRate = r => (r || 0).toFixed(1);
const enc = encodeURIComponent;

function table(headers, rows, attrs) {
  return el('table', attrs || {},
    el('thead', {}, el('tr', {}, headers.map(h => el('th', { class: h.endsWith('#') ? 'num' : '' }, h.replace(/#$/, ''))))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, 'none'))));
}
const num = v => el('td', { class: 'num' }, String(v));

// ---- Cluster -------------------------------------------------------------------------------

async function pageCluster() {
  const c = await api('/cluster');
  const rows = c.brokers.map(b => el('tr', {},
    el('td', {}, b.broker.brokerName), el('td', {}, b.broker.cluster), num(b.broker.brokerId),
    el('td', {}, b.broker.addr), el('td', {}, b.broker.role), num(b.broker.epoch),
    el('td', {}, b.broker.controlled ? 'controller' : 'static'),
    el('td', {}, b.broker.replicas.length
      ? b.broker.replicas.map(r => `${r.addr} ${r.inSync ? 'in sync' : 'behind'} (acked ${r.acked})`).join('; ')
      : 'no replica'),
    el('td', { class: 'num' }, fmtBytes(b.broker.logBytes)),
    num(fmtRate(b.tpsIn)), num(fmtRate(b.tpsOut)),
    el('td', {}, fmtTime(b.broker.startedMs))));
  const peers = (c.peers || []).map(p => el('tr', { 'data-addr': p.addr },
    el('td', {}, p.brokerName), num(p.brokerId), el('td', {}, p.addr), el('td', {}, p.role), num(p.epoch),
    el('td', { class: 'num' }, fmtBytes(p.logBytes)), num(fmtRate(p.tpsIn)), num(fmtRate(p.tpsOut)),
    el('td', {}, p.version), el('td', {}, p.startedMs ? fmtTime(p.startedMs) : ''),
    el('td', { class: p.error ? 'lagging' : '' }, p.error || 'answering')));
  return [
    el('h2', {}, 'Cluster'),
    table(['Broker', 'Cluster', 'Id#', 'Address', 'Role', 'Epoch#', 'Role from', 'Replicas / sync state',
      'Commit log#', 'TPS in#', 'TPS out#', 'Started (UTC)'], rows, { id: 'brokers' }),
    el('h3', {}, 'Other brokers of the cluster'),
    c.peersError ? el('p', { class: 'lagging', id: 'peers-error' }, c.peersError) :
      table(['Broker', 'Id#', 'Address', 'Role', 'Epoch#', 'Commit log#', 'TPS in#', 'TPS out#', 'Version',
        'Started (UTC)', 'Status'], peers, { id: 'peers' }),
    el('p', { class: 'muted small' },
      `${c.brokers[0] ? c.brokers[0].broker.topics : 0} topics. Rates are over the last ten-second sample. `,
      c.authRequired ? 'Changes need an access key and secret key.' : 'Authentication is off on this broker.'),
  ];
}

// ---- Topics --------------------------------------------------------------------------------

async function pageTopics() {
  const showSystem = location.hash.includes('system');
  const topics = await api('/topics' + (showSystem ? '?system=true' : ''));
  const form = el('form', { class: 'bar', id: 'create-topic' },
    el('label', {}, 'Topic ', el('input', { name: 'topic', required: true, placeholder: 'TopicName' })),
    el('label', {}, 'Queues ', el('input', { name: 'queues', type: 'number', min: 1, max: 1024, value: 4, style: 'width:5em' })),
    el('label', {}, 'Type ', el('select', { name: 'type' },
      ['NORMAL', 'FIFO', 'DELAY', 'TRANSACTION', 'MIXED'].map(t => el('option', {}, t)))),
    el('button', { class: 'primary', type: 'submit' }, 'Create topic'),
    el('a', { href: showSystem ? '#topics' : '#topics-system', class: 'small' }, showSystem ? 'hide system topics' : 'show system topics'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = new FormData(form);
    act('Create topic ' + f.get('topic'), () => api('/topics', {
      method: 'POST', body: { topic: f.get('topic'), queues: Number(f.get('queues')), messageType: f.get('type') },
    }));
  });
  const rows = topics.map(t => {
    const stored = t.queues.reduce((a, q) => a + (q.maxOffset - q.minOffset), 0);
    const qInput = el('input', { type: 'number', min: 1, max: 1024, value: t.writeQueues, style: 'width:4.5em', 'aria-label': 'queues of ' + t.topic });
    return el('tr', { 'data-topic': t.topic },
      el('td', {}, t.topic), el('td', {}, t.messageType), num(t.queues.length), num(stored),
      el('td', { class: 'small' }, t.queues.map(q => `q${q.queueId}: ${q.minOffset}–${q.maxOffset}`).join(', ')),
      num(fmtRate(t.tpsIn)), num(fmtRate(t.tpsOut)),
      el('td', {}, qInput,
        el('button', { type: 'button', onclick: () => act('Update ' + t.topic, () => api('/topics/' + enc(t.topic), { method: 'PUT', body: { queues: Number(qInput.value) } })) }, 'Set queues'),
        ' ',
        el('button', { type: 'button', class: 'danger', onclick: () => {
          if (confirm('Delete topic ' + t.topic + ' and its messages?')) act('Delete ' + t.topic, () => api('/topics/' + enc(t.topic), { method: 'DELETE' }));
        } }, 'Delete')));
  });
  return [el('h2', {}, 'Topics'), form,
    table(['Topic', 'Type', 'Queues#', 'Messages#', 'Queue offsets (min–max)', 'TPS in#', 'TPS out#', 'Change'], rows, { id: 'topics' })];
}

// ---- Consumer groups -----------------------------------------------------------------------

async function pageGroups() {
  const selected = decodeURIComponent((location.hash.split('/')[1] || ''));
  const groups = await api('/groups');
  const rows = groups.map(g => el('tr', { 'data-group': g.group },
    el('td', {}, el('a', { href: '#groups/' + enc(g.group) }, g.group)), el('td', {}, g.consumeType),
    el('td', {}, g.topics.join(', ')),
    el('td', { class: 'num' + (g.lagMessages ? ' lagging' : '') }, String(g.lagMessages)),
    el('td', { class: 'num' }, fmtAge(g.lagMs)), num(g.inflight), num(g.clients)));
  const out = [el('h2', {}, 'Consumer groups'),
    table(['Group', 'Type', 'Topics', 'Lag (messages)#', 'Lag (age)#', 'In flight#', 'Clients#'], rows, { id: 'groups' })];
  if (selected) out.push(...await groupDetail(selected));
  return out;
}

async function groupDetail(name) {
  const g = await api('/groups/' + enc(name));
  const topics = [...new Set(g.queues.map(q => q.topic).concat(g.subscriptions.map(s => s.topic)))];
  const when = el('input', { name: 'when', type: 'datetime-local', step: 1 });
  const topicSel = el('input', { name: 'topic', list: 'group-topics', required: true, value: topics[0] || '' });
  const reset = el('form', { class: 'bar', id: 'reset-offset' },
    el('label', {}, 'Topic ', topicSel, el('datalist', { id: 'group-topics' }, topics.map(t => el('option', { value: t })))),
    el('label', {}, 'Time (UTC) ', when),
    el('button', { type: 'submit' }, 'Reset to time'),
    el('button', { type: 'button', id: 'skip-to-end', class: 'danger', onclick: () => act('Skip ' + name + ' to the end of ' + topicSel.value,
      () => api('/groups/' + enc(name) + '/reset', { method: 'POST', body: { topic: topicSel.value, toEnd: true } })) }, 'Skip to end'));
  reset.addEventListener('submit', ev => {
    ev.preventDefault();
    const t = Date.parse(when.value + 'Z');
    if (Number.isNaN(t)) { status('Pick a time first', 'error'); return; }
    act('Reset ' + name, () => api('/groups/' + enc(name) + '/reset', { method: 'POST', body: { topic: topicSel.value, timestamp: t } }));
  });
  return [
    el('h3', { id: 'group-detail' }, `Group ${g.group} — ${g.consumeType}, ${g.messageModel}` +
      (g.retryMaxTimes !== null && g.retryMaxTimes !== undefined ? `, retryMaxTimes ${g.retryMaxTimes}` : '')),
    el('p', {}, 'Total lag ', el('strong', { id: 'group-lag' }, String(g.lagMessages)), ` messages, oldest waiting ${fmtAge(g.lagMs)}.`),
    table(['Topic', 'Queue#', 'Broker offset#', 'Consumer offset#', 'Lag (messages)#', 'Lag (age)#', 'In flight#'],
      g.queues.map(q => el('tr', {}, el('td', {}, q.topic), num(q.queueId), num(q.brokerOffset), num(q.consumerOffset),
        el('td', { class: 'num' + (q.lagMessages ? ' lagging' : '') }, String(q.lagMessages)), el('td', { class: 'num' }, fmtAge(q.lagMs)), num(q.inflight))),
      { id: 'group-queues' }),
    el('h3', {}, 'Connected clients'),
    table(['Client id', 'Address', 'Protocol', 'Language', 'Version'],
      g.clients.map(c => el('tr', {}, el('td', {}, c.clientId), el('td', {}, c.addr), el('td', {}, c.protocol), el('td', {}, c.language), el('td', {}, c.version))),
      { id: 'group-clients' }),
    el('h3', {}, 'Subscriptions'),
    table(['Topic', 'Type', 'Expression'],
      g.subscriptions.map(s => el('tr', {}, el('td', {}, s.topic), el('td', {}, s.expressionType), el('td', {}, s.expression))),
      { id: 'group-subscriptions' }),
    el('h3', {}, 'Move offsets'), reset,
  ];
}

// ---- Messages ------------------------------------------------------------------------------

let lastSearch = null;

async function pageMessages() {
  const byKey = el('form', { class: 'bar', id: 'search-key' },
    el('strong', {}, 'By key'),
    el('label', {}, 'Topic ', el('input', { name: 'topic', required: true })),
    el('label', {}, 'Key ', el('input', { name: 'key', required: true })),
    el('button', { class: 'primary', type: 'submit' }, 'Search'));
  const byId = el('form', { class: 'bar', id: 'search-id' },
    el('strong', {}, 'By id'),
    el('label', {}, 'Message id ', el('input', { name: 'id', required: true, size: 34 })),
    el('label', {}, 'Topic (for unique keys) ', el('input', { name: 'topic' })),
    el('button', { class: 'primary', type: 'submit' }, 'Search'));
  const now = new Date();
  const iso = d => d.toISOString().slice(0, 19);
  const byTime = el('form', { class: 'bar', id: 'search-time' },
    el('strong', {}, 'By time'),
    el('label', {}, 'Topic ', el('input', { name: 'topic', required: true })),
    el('label', {}, 'Queue ', el('input', { name: 'queue', type: 'number', min: 0, value: 0, style: 'width:4em' })),
    el('label', {}, 'From (UTC) ', el('input', { name: 'begin', type: 'datetime-local', step: 1, value: iso(new Date(now - 3600e3)) })),
    el('label', {}, 'To ', el('input', { name: 'end', type: 'datetime-local', step: 1, value: iso(new Date(+now + 60e3)) })),
    el('button', { class: 'primary', type: 'submit' }, 'Search'));
  const results = el('div', { id: 'results' });
  const search = async (label, path) => {
    lastSearch = { label, path };
    results.replaceChildren(el('p', { class: 'muted' }, 'Searching…'));
    try {
      const found = await api(path);
      status('', '');
      results.replaceChildren(...messageList(found, label));
    } catch (e) {
      results.replaceChildren();
      status(label + ': ' + e.message, 'error');
    }
  };
  byKey.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = new FormData(byKey);
    search(`key ${f.get('key')} in ${f.get('topic')}`, `/messages/by-key?topic=${enc(f.get('topic'))}&key=${enc(f.get('key'))}`);
  });
  byId.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = new FormData(byId);
    search(`id ${f.get('id')}`, `/messages/by-id?id=${enc(f.get('id'))}&topic=${enc(f.get('topic'))}`);
  });
  byTime.addEventListener('submit', ev => {
    ev.preventDefault();
    const f = new FormData(byTime);
    const begin = Date.parse(f.get('begin') + 'Z');
    const end = Date.parse(f.get('end') + 'Z');
    search(`${f.get('topic')} queue ${f.get('queue')}`, `/messages/by-time?topic=${enc(f.get('topic'))}&queue=${enc(f.get('queue'))}&begin=${begin}&end=${end}&max=64`);
  });
  if (lastSearch) search(lastSearch.label, lastSearch.path);
  return [el('h2', {}, 'Messages'), byKey, byId, byTime, results];
}

function messageList(found, label) {
  const detail = el('div', { id: 'message-detail' });
  const rows = found.map(m => el('tr', { 'data-msg-id': m.msgId },
    el('td', {}, m.msgId), el('td', {}, m.topic), num(m.queueId), num(m.queueOffset), el('td', {}, fmtTime(m.storeTimestamp)),
    el('td', {}, m.keys.join(' ')), el('td', {}, m.tags || ''), num(m.body.size),
    el('td', {}, el('button', { type: 'button', onclick: () => showMessage(m, detail) }, 'Show'))));
  return [el('p', { class: 'muted' }, `${found.length} message(s) for ${label}`),
    table(['Message id', 'Topic', 'Queue#', 'Offset#', 'Stored (UTC)', 'Keys', 'Tag', 'Body bytes#', ''], rows, { id: 'messages' }), detail];
}

function bodyView(b) {
  const note = b.encoding === 'hex'
    ? `Not UTF-8: the first ${Math.min(b.size, b.text.length / 2)} of ${b.size} bytes in hex.`
    : (b.truncated ? `The first ${b.text.length} of ${b.size} bytes.` : `${b.size} bytes.`);
  return [el('p', { class: 'muted small' }, note), el('pre', { class: 'body', id: 'message-body' }, b.text)];
}

async function showMessage(m, into) {
  const props = Object.entries(m.properties).map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', {}, v)));
  const timeline = el('div', { id: 'trace' }, el('p', { class: 'muted' }, 'Loading trace…'));
  into.replaceChildren(el('div', { class: 'panel' },
    el('h3', {}, 'Message ' + m.msgId),
    el('p', { class: 'small' }, `offset id ${m.offsetMsgId} · born ${fmtTime(m.bornTimestamp)} at ${m.bornHost} · stored ${fmtTime(m.storeTimestamp)} · reconsume times ${m.reconsumeTimes}`),
    el('h3', {}, 'Body'), ...bodyView(m.body),
    el('h3', {}, 'Properties'), table(['Name', 'Value'], props, { id: 'properties' }),
    el('h3', {}, 'Trace on this broker'), timeline));
  try {
    const steps = await api('/trace/' + enc(m.msgId));
    timeline.replaceChildren(steps.length
      ? el('ol', { class: 'timeline' }, steps.map((s, i) => el('li', {},
        el('span', { class: 'kind' }, s.kind), ' ',
        el('span', { class: 'muted' }, fmtTime(s.atMs) + (i ? ` (+${s.atMs - steps[0].atMs} ms)` : '')), el('br'),
        `${s.topic} q${s.queueId}@${s.queueOffset}`, s.group ? ` · group ${s.group}` : '', s.peer ? ` · ${s.peer}` : '',
        s.detail ? el('div', { class: 'small muted' }, s.detail) : null)))
      : el('p', { class: 'muted' }, 'No trace recorded (brokerTraceEnable off, or not yet flushed).'));
  } catch (e) {
    timeline.replaceChildren(el('p', { class: 'muted' }, 'Trace unavailable: ' + e.message));
  }
}

// ---- Dead letters --------------------------------------------------------------------------

async function pageDlq() {
  const group = decodeURIComponent(location.hash.split('/')[1] || '');
  const form = el('form', { class: 'bar', id: 'dlq-group' },
    el('label', {}, 'Consumer group ', el('input', { name: 'group', required: true, value: group })),
    el('button', { class: 'primary', type: 'submit' }, 'List dead letters'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    location.hash = '#dlq/' + enc(new FormData(form).get('group'));
  });
  const out = [el('h2', {}, 'Dead letters'), form];
  if (!group) return out;
  const d = await api('/dlq/' + enc(group));
  const resend = offset => act(offset === undefined ? `Resend every dead letter of ${group}` : `Resend dead letter ${offset}`,
    () => api('/dlq/' + enc(group) + '/resend', { method: 'POST', body: offset === undefined ? {} : { offset } }));
  const rows = d.messages.map(m => el('tr', { 'data-offset': m.queueOffset },
    num(m.queueOffset), el('td', {}, m.msgId), el('td', {}, m.originTopic || '?'), el('td', {}, fmtTime(m.storeTimestamp)),
    num(m.reconsumeTimes), el('td', {}, m.keys.join(' ')),
    el('td', { class: 'small' }, m.body.encoding === 'hex' ? '(binary) ' + m.body.text.slice(0, 64) : m.body.text.slice(0, 120)),
    el('td', {}, el('button', { type: 'button', onclick: () => resend(m.queueOffset) }, 'Resend'))));
  out.push(el('p', {}, `${d.topic}: offsets ${d.minOffset}–${d.maxOffset}. `,
    el('button', { type: 'button', id: 'resend-all', disabled: !d.messages.length, onclick: () => resend(undefined) }, 'Resend all')));
  out.push(table(['Offset#', 'Message id', 'Original topic', 'Stored (UTC)', 'Attempts#', 'Keys', 'Body', ''], rows, { id: 'dead-letters' }));
  return out;
}

// ---- Stuck queues --------------------------------------------------------------------------

async function pageStuck() {
  const stuck = await api('/stuck');
  const rows = stuck.map(s => el('tr', { 'data-group': s.group, 'data-topic': s.topic },
    el('td', {}, s.group), el('td', {}, s.topic), num(s.queueId), num(s.lagMessages), num(s.offset),
    el('td', {}, s.msgId), el('td', {}, s.keys.join(' ')), el('td', {}, fmtTime(s.storeTimestamp)),
    el('td', { class: 'num lagging' }, fmtAge(s.ageMs)), num(s.reconsumeTimes), num(s.inflight)));
  return [el('h2', {}, 'Stuck queues'),
    el('p', { class: 'muted' }, 'Every consumer-group queue with messages left behind, the longest-waiting first.'),
    table(['Group', 'Topic', 'Queue#', 'Lag#', 'Oldest offset#', 'Oldest message id', 'Keys', 'Stored (UTC)', 'Waiting#', 'Reconsume times#', 'In flight#'], rows, { id: 'stuck' })];
}

// ---- Charts --------------------------------------------------------------------------------

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

// A line chart of `series` ([{name, color, values}]) over `times` (ms), as inline SVG.
function lineChart(id, title, times, series) {
  const W = 760, H = 220, L = 56, R = 12, T = 24, B = 28;
  const max = Math.max(1, ...series.flatMap(s => s.values));
  const t0 = times[0] || 0, t1 = times[times.length - 1] || 1;
  const x = t => L + (t1 > t0 ? (t - t0) / (t1 - t0) : 1) * (W - L - R);
  const y = v => T + (1 - v / max) * (H - T - B);
  const parts = [svg('text', { x: L, y: 14 }, title)];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    parts.push(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e5e8ee' }));
    parts.push(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, v >= 100 ? Math.round(v) : v.toFixed(1)));
  }
  if (times.length) {
    parts.push(svg('text', { x: L, y: H - 8 }, fmtTime(t0).slice(11, 19)));
    parts.push(svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end' }, fmtTime(t1).slice(11, 19)));
  }
  for (const s of series) {
    const d = s.values.map((v, i) => `${i ? 'L' : 'M'}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    if (s.values.length === 1) parts.push(svg('circle', { cx: x(times[0]), cy: y(s.values[0]), r: 3, fill: s.color }));
    else if (d) parts.push(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': 2 }));
  }
  return el('div', {},
    svg('svg', { class: 'chart', id, width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title }, parts),
    el('div', { class: 'legend small' }, series.map(s => el('span', {}, el('span', { class: 'swatch', style: `background:${s.color}` }), s.name))));
}

async function pageCharts() {
  const c = await api('/charts');
  const times = c.points.map(p => p.atMs);
  return [el('h2', {}, 'Charts'),
    el('p', { class: 'muted' }, `${c.points.length} sample(s), one every ${c.intervalMs / 1000} s, the last hour kept.`),
    lineChart('chart-tps', 'Messages per second', times, [
      { name: 'stored (in)', color: '#1f6feb', values: c.points.map(p => p.tpsIn) },
      { name: 'delivered (out)', color: '#2da44e', values: c.points.map(p => p.tpsOut) }]),
    lineChart('chart-lag', 'Consumer lag (messages, all groups)', times, [
      { name: 'lag', color: '#c0362c', values: c.points.map(p => p.lag) }])];
}

// ---- Navigation ----------------------------------------------------------------------------

const PAGES = { cluster: pageCluster, topics: pageTopics, groups: pageGroups, messages: pageMessages, dlq: pageDlq, stuck: pageStuck, charts: pageCharts };

async function render(clearStatus = true) {
  const name = (location.hash.slice(1).split(/[/-]/)[0]) || 'cluster';
  const page = PAGES[name] || pageCluster;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === name);
  if (clearStatus) status('', '');
  document.body.dataset.loading = 'true';
  try {
    $page().replaceChildren(...await page());
  } catch (e) {
    $page().replaceChildren(el('h2', {}, name), el('p', { class: 'muted' }, 'Could not load: ' + e.message));
  } finally {
    document.body.dataset.loading = 'false';
    document.body.dataset.page = name;
  }
}

window.addEventListener('hashchange', () => render());
document.getElementById('refresh').addEventListener('click', () => render(false));
render();
