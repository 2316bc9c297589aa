// The Node.js RocketMQ 5 client signing with `sessionCredentials` against a ferromq whose broker has
// authentication and authorization on (run by run-acl.sh, which creates the user and its ACL with
// `ferromq admin`): the allowed user sends and consumes every message of its topic; a wrong secret
// is refused as UNAUTHORIZED, a topic outside the user's ACL as FORBIDDEN.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const { Producer, SimpleConsumer } = require('rocketmq-client-nodejs');

const GRPC = process.env.FERROMQ_GRPC;
const [ USER, SECRET ] = (process.env.FERROMQ_ACL_USER || '').split(':');
assert.ok(GRPC && USER && SECRET, 'FERROMQ_GRPC or FERROMQ_ACL_USER is not set: run compat/node/run-acl.sh');
const OPEN = 'node-acl-open';
const DENIED = 'node-acl-denied';
const GROUP_PREFIX = 'node-acl-';
// v5 status codes (apache.rocketmq.v2.Code).
const UNAUTHORIZED = 40100;
const FORBIDDEN = 40300;

const quiet = { info() {}, debug() {}, warn() {}, error() {} };

function options(accessKey, accessSecret, extra) {
  return {
    endpoints: GRPC, namespace: '', requestTimeout: 10_000, logger: quiet,
    sessionCredentials: { accessKey, accessSecret }, ...extra,
  };
}

// The v5 status code of a refusal: the client wraps a failed startup's ClientException in errors of
// its own (`cause`).
function codeOf(e) {
  for (let c = e; c; c = c.cause) {
    if (typeof c.code === 'number') return c.code;
  }
  return undefined;
}

// The whole chain of messages of a refusal.
function describe(e) {
  const parts = [];
  for (let c = e; c; c = c.cause) parts.push(String(c.message || c));
  return parts.join(' <- ');
}

// What `action` rejects with; fails when it succeeds.
async function refusal(action) {
  try {
    await action();
  } catch (e) {
    return e;
  }
  assert.fail('the call succeeded');
}

test('the allowed user sends and consumes every message of its topic', async () => {
  const run = `acl-${randomUUID()}-`;
  const sent = new Set();
  const p = new Producer(options(USER, SECRET, { topics: [ OPEN ] }));
  await p.startup();
  try {
    for (let i = 0; i < 5; i++) {
      const b = run + i;
      const receipt = await p.send({ topic: OPEN, body: Buffer.from(b) });
      assert.ok(receipt.messageId);
      sent.add(b);
    }
  } finally {
    await p.shutdown();
  }
  const c = new SimpleConsumer(options(USER, SECRET, {
    consumerGroup: GROUP_PREFIX + randomUUID().slice(0, 8),
    subscriptions: new Map([[ OPEN, '*' ]]),
    awaitDuration: 3_000,
  }));
  await c.startup();
  const got = new Set();
  try {
    const deadline = Date.now() + 60_000;
    while ([ ...sent ].some(b => !got.has(b)) && Date.now() < deadline) {
      for (const m of await c.receive(16, 30_000)) {
        const b = m.body.toString();
        if (b.startsWith(run)) got.add(b);
        await c.ack(m);
      }
    }
  } finally {
    await c.shutdown();
  }
  assert.deepEqual([ ...got ].sort(), [ ...sent ].sort());
});

test('a wrong secret is refused as UNAUTHORIZED', async () => {
  const e = await refusal(async () => {
    const p = new Producer(options(USER, `${SECRET}-wrong`, { topics: [ OPEN ] }));
    try {
      await p.startup();
      await p.send({ topic: OPEN, body: Buffer.from('never') });
    } finally {
      await p.shutdown().catch(() => {});
    }
  });
  assert.equal(codeOf(e), UNAUTHORIZED, describe(e));
  assert.match(describe(e), /signature/);
});

test('a topic outside the ACL is FORBIDDEN, for sending and for receiving', async () => {
  const p = new Producer(options(USER, SECRET));
  await p.startup();
  try {
    const e = await refusal(() => p.send({ topic: DENIED, body: Buffer.from('never') }));
    assert.equal(codeOf(e), FORBIDDEN, describe(e));
    assert.match(describe(e), new RegExp(`User:${USER}`));
    assert.match(describe(e), new RegExp(`Topic:${DENIED}`));
  } finally {
    await p.shutdown();
  }
  const e = await refusal(async () => {
    const c = new SimpleConsumer(options(USER, SECRET, {
      consumerGroup: GROUP_PREFIX + randomUUID().slice(0, 8),
      subscriptions: new Map([[ DENIED, '*' ]]),
      awaitDuration: 1_000,
    }));
    try {
      await c.startup();
      await c.receive(1, 30_000);
    } finally {
      await c.shutdown().catch(() => {});
    }
  });
  assert.equal(codeOf(e), FORBIDDEN, describe(e));
});
