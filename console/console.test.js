// ferromq's web console in a real headless Chromium (playwright-core driving the system's
// Chromium), against a `ferromq dev` with real traffic from the Node.js RocketMQ 5 client (gRPC).
//
// Run by run.sh, which starts the server and passes FERROMQ_HTTP (the console's listener) and
// FERROMQ_GRPC, and creates the consumer groups the scenarios use. Each page is clicked through
// as an operator would, checked for what the traffic must show, and photographed into
// SCREENSHOTS (ci-artifacts/console by default).
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { format } = require('node:util');
const { chromium } = require('playwright-core');
const { Producer, SimpleConsumer } = require('rocketmq-client-nodejs');

const HTTP = process.env.FERROMQ_HTTP;
const GRPC = process.env.FERROMQ_GRPC;
assert.ok(HTTP && GRPC, 'FERROMQ_HTTP and FERROMQ_GRPC are not set: run console/run.sh');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOTS || path.join(__dirname, '..', 'ci-artifacts', 'console');
const BASE = `http://${HTTP}/console/`;

const TOPIC = 'console-orders';
const GROUP = 'console-group';
const POISON_TOPIC = 'console-poison';
const DLQ_GROUP = 'console-dlq';
const ORDERS = 10;

const logger = {
  info() {}, debug() {},
  warn(...a) { console.error('client warn:', format(...a)); },
  error(...a) { console.error('client error:', format(...a)); },
};
const clientOptions = extra => ({ endpoints: GRPC, namespace: '', requestTimeout: 10_000, logger, ...extra });

let browser;
let page;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: [ '--no-sandbox' ] });
  // The console's Content-Security-Policy forbids eval; Playwright's waitForFunction evaluates its
  // predicate as a string, so the test (only) bypasses the policy.
  page = await browser.newPage({ viewport: { width: 1400, height: 900 }, bypassCSP: true });
  page.on('dialog', d => d.accept());
  page.on('pageerror', e => console.error('page error:', e.message));
});

after(async () => {
  await browser?.close();
});

// Opens a page of the console and waits until it is drawn.
async function open(hash) {
  // A full load each time: a hash change alone would race with the previous page's drawing.
  await page.goto('about:blank');
  await page.goto(BASE + hash);
  await page.waitForFunction(h => document.body.dataset.loading === 'false' && location.hash === h, hash);
}

// Clicks Refresh until `probe()` holds (the broker's state catches up with a client's acks and
// the trace flush asynchronously); fails after `ms`.
async function refreshUntil(what, probe, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await page.waitForTimeout(250);
    await page.click('#refresh');
    await page.waitForFunction(() => document.body.dataset.loading === 'false');
  }
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

async function statusText() {
  return (await page.textContent('#status')) || '';
}

// Receives from `consumer` until `count` messages arrived (acking them when `ack`).
async function receiveUntil(consumer, count, { ack = true, invisibleMs = 30_000 } = {}) {
  const got = [];
  const deadline = Date.now() + 60_000;
  while (got.length < count && Date.now() < deadline) {
    for (const m of await consumer.receive(16, invisibleMs)) {
      got.push(m);
      if (ack) await consumer.ack(m);
    }
  }
  return got;
}

async function simpleConsumer(group, topic) {
  const c = new SimpleConsumer(clientOptions({
    consumerGroup: group, subscriptions: new Map([[ topic, '*' ]]), awaitDuration: 3_000,
  }));
  await c.startup();
  return c;
}

test('cluster: the broker with its address and role', async () => {
  await open('#cluster');
  const row = await page.textContent('#brokers tbody tr');
  assert.match(row, /ASYNC_MASTER/);
  assert.match(row, /127\.0\.0\.1:\d+/);
  await shot('cluster');
});

test('topics: a topic created from the page is listed, with its messages', async () => {
  await open('#topics');
  await page.fill('#create-topic input[name=topic]', TOPIC);
  await page.fill('#create-topic input[name=queues]', '2');
  await page.click('#create-topic button[type=submit]');
  const row = page.locator(`#topics tr[data-topic="${TOPIC}"]`);
  await row.waitFor();
  assert.match(await statusText(), /done/);
  assert.equal(await row.locator('td').nth(2).textContent(), '2');

  const p = new Producer(clientOptions({ topics: [ TOPIC ] }));
  await p.startup();
  try {
    for (let i = 0; i < ORDERS; i++) {
      await p.send({ topic: TOPIC, body: Buffer.from(`order body ${i} <b>not bold</b>`), keys: [ `order-${i}` ], tag: 'orders' });
    }
  } finally {
    await p.shutdown();
  }
  await refreshUntil('the messages counted', async () =>
    (await page.locator(`#topics tr[data-topic="${TOPIC}"] td`).nth(3).textContent()) === String(ORDERS));
  await shot('topics');
});

test('groups and stuck queues: lag shows, then goes down after the group consumes', async () => {
  // The group starts at the topic's first message: moved there from its page.
  await open(`#groups/${GROUP}`);
  await page.fill('#reset-offset input[name=topic]', TOPIC);
  await page.fill('#reset-offset input[name=when]', '2000-01-01T00:00');
  await page.click('#reset-offset button[type=submit]');
  await page.waitForFunction(() => /done/.test(document.getElementById('status').textContent));
  await refreshUntil('the lag of every message', async () => (await page.textContent('#group-lag')) === String(ORDERS));

  // Nothing consumed yet: the stuck-queue view names the oldest message of each queue.
  await open('#stuck');
  const rows = page.locator(`#stuck tr[data-group="${GROUP}"]`);
  assert.ok(await rows.count() >= 1, 'no stuck queue of the group');
  const oldest = await rows.first().textContent();
  assert.match(oldest, /order-\d/);
  await shot('stuck');

  const c = await simpleConsumer(GROUP, TOPIC);
  try {
    const got = await receiveUntil(c, ORDERS);
    assert.equal(got.length, ORDERS);
    // While it is connected, the v5 client is listed with its group: protocol, language,
    // release, and what it subscribes to.
    await open(`#groups/${GROUP}`);
    const clients = await page.textContent('#group-clients tbody');
    assert.match(clients, /gRPC/);
    assert.match(clients, /NODE_JS/);
    assert.match(clients, /127\.0\.0\.1:\d+/);
    assert.match(await page.textContent('#group-subscriptions tbody'), new RegExp(`${TOPIC}\\s*TAG\\s*\\*`));
    await shot('group-clients');
  } finally {
    await c.shutdown();
  }
  await open(`#groups/${GROUP}`);
  await refreshUntil('the lag to drop to 0', async () => (await page.textContent('#group-lag')) === '0');
  assert.match(await page.textContent(`#groups tr[data-group="${GROUP}"]`), /POP/);
  await shot('groups');

  await open('#stuck');
  assert.equal(await page.locator(`#stuck tr[data-group="${GROUP}"]`).count(), 0);
});

test('messages: found by key, with its body as text and its trace', async () => {
  await open('#messages');
  await page.fill('#search-key input[name=topic]', TOPIC);
  await page.fill('#search-key input[name=key]', 'order-3');
  await page.click('#search-key button[type=submit]');
  const row = page.locator('#messages tbody tr');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  await row.locator('button').click();
  await page.locator('#message-body').waitFor();
  // The markup in the body is shown as text, not rendered.
  assert.equal(await page.textContent('#message-body'), 'order body 3 <b>not bold</b>');
  assert.equal(await page.locator('#message-body b').count(), 0);
  assert.match(await page.textContent('#properties'), /KEYS\s*order-3/);
  // Stored, then delivered to the group (the trace is written in batches: search again until).
  await refreshUntil('the trace timeline', async () => {
    // A refresh runs the search again: show the message once it is listed.
    const show = page.locator('#messages tbody tr button').first();
    await show.waitFor();
    await show.click();
    await page.waitForFunction(() => {
      const t = document.getElementById('trace');
      return t && !/Loading/.test(t.textContent);
    });
    const kinds = await page.locator('#trace .kind').allTextContents();
    return kinds.includes('BrokerStored') && kinds.includes('BrokerDelivered');
  });
  await shot('messages');
});

test('dead letters: a resent dead letter arrives at its group', async () => {
  const p = new Producer(clientOptions({ topics: [ POISON_TOPIC ] }));
  await p.startup();
  try {
    await p.send({ topic: POISON_TOPIC, body: Buffer.from('poison'), keys: [ 'poison-key' ] });
  } finally {
    await p.shutdown();
  }
  const c = await simpleConsumer(DLQ_GROUP, POISON_TOPIC);
  try {
    // The group gives up on its only delivery (retryMaxTimes 0): the broker dead-letters it.
    const [ m ] = await receiveUntil(c, 1, { ack: false });
    assert.equal(m.body.toString(), 'poison');
    await c.changeInvisibleDuration(m, 0);

    await open(`#dlq/${DLQ_GROUP}`);
    await refreshUntil('the dead letter listed', async () => (await page.locator('#dead-letters tr[data-offset]').count()) === 1);
    const row = await page.textContent('#dead-letters tr[data-offset]');
    assert.match(row, new RegExp(POISON_TOPIC));
    assert.match(row, /poison-key/);
    await shot('dlq');
    await page.click('#dead-letters tr[data-offset] button');
    await page.waitForFunction(() => /done/.test(document.getElementById('status').textContent));

    const again = await receiveUntil(c, 1);
    assert.deepEqual(again.map(x => x.body.toString()), [ 'poison' ]);
    assert.deepEqual(again[0].keys, [ 'poison-key' ]);
  } finally {
    await c.shutdown();
  }
});

test('charts: rates and lag drawn from the sampler', async () => {
  await open('#charts');
  for (const id of [ '#chart-tps', '#chart-lag' ]) {
    await page.locator(id).waitFor();
    const marks = await page.locator(`${id} path, ${id} circle`).count();
    assert.ok(marks >= 1, `${id} has no line`);
  }
  await shot('charts');
});
