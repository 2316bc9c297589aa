// The Node.js RocketMQ 5 client (rocketmq-client-nodejs) against ferromq's gRPC endpoint.
//
// Run by run.sh, which starts `ferromq dev`, creates one topic per scenario (so a consumer group
// that starts at a queue's first message must see exactly what its scenario sent) and passes the
// endpoint in FERROMQ_GRPC. The TLS scenario trusts the server's certificate through
// GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, also set by run.sh.
'use strict';

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');
const { format } = require('node:util');
const { ConsumeResult, Producer, PushConsumer, SimpleConsumer } = require('rocketmq-client-nodejs');
const { TransactionResolution } = require('rocketmq-client-nodejs/proto/apache/rocketmq/v2/definition_pb');

const GRPC = process.env.FERROMQ_GRPC;
assert.ok(GRPC, 'FERROMQ_GRPC is not set: run compat/node/run.sh');

// How long a scenario waits for what it sent; a healthy run needs a few seconds at most.
const RECEIVE_DEADLINE_MS = 60_000;
// Long-polling time of one ReceiveMessage, and so how long "nothing more arrives" is watched.
const AWAIT_MS = 3_000;

// The client logs to a file in the home folder by default; here only its warnings and errors
// are shown, on stderr.
const logger = {
  info() {},
  debug() {},
  warn(...args) { console.error('client warn:', format(...args)); },
  error(...args) { console.error('client error:', format(...args)); },
};

function options(extra) {
  return { endpoints: GRPC, namespace: '', requestTimeout: 10_000, logger, ...extra };
}

async function startProducer(topic, extra = {}) {
  const p = new Producer(options({ topics: [ topic ], ...extra }));
  await p.startup();
  return p;
}

async function startConsumer(name, topic, expression = '*', extra = {}) {
  const c = new SimpleConsumer(options({
    consumerGroup: `node-${name}-${randomUUID().slice(0, 8)}`,
    subscriptions: new Map([[ topic, expression ]]),
    awaitDuration: AWAIT_MS,
    ...extra,
  }));
  await c.startup();
  return c;
}

const body = m => m.body.toString();

// Receives (and acks) until `count` messages arrived; returns them in arrival order.
async function receiveUntil(consumer, count, { invisibleMs = 30_000, ack = true } = {}) {
  const got = [];
  const deadline = Date.now() + RECEIVE_DEADLINE_MS;
  while (got.length < count && Date.now() < deadline) {
    for (const m of await consumer.receive(16, invisibleMs)) {
      got.push(m);
      if (ack) await consumer.ack(m);
    }
  }
  return got;
}

// One more long poll: every message was acked, so nothing may be delivered again.
async function assertNothingMore(consumer) {
  const extra = await consumer.receive(16, 30_000);
  assert.deepEqual(extra.map(body), []);
}

test('normal messages keep tag, keys and properties, and the tag filter holds', async () => {
  const bodies = Array.from({ length: 10 }, (_, i) => `normal-${i}`);
  const p = await startProducer('node-normal');
  try {
    for (const [ i, b ] of bodies.entries()) {
      const receipt = await p.send({
        topic: 'node-normal',
        body: Buffer.from(b),
        tag: 'nodetag',
        keys: [ `key-${i}` ],
        properties: new Map([[ 'index', String(i) ], [ 'lang', 'node' ]]),
      });
      assert.ok(receipt.messageId);
    }
    for (let i = 0; i < 3; i++) {
      await p.send({ topic: 'node-normal', body: Buffer.from(`other-${i}`), tag: 'othertag' });
    }
  } finally {
    await p.shutdown();
  }

  const c = await startConsumer('normal', 'node-normal', 'nodetag');
  try {
    const got = await receiveUntil(c, bodies.length);
    assert.deepEqual(got.map(body).sort(), [ ...bodies ].sort());
    for (const m of got) {
      const i = body(m).split('-')[1];
      assert.equal(m.topic, 'node-normal');
      assert.equal(m.tag, 'nodetag');
      assert.deepEqual(m.keys, [ `key-${i}` ]);
      assert.deepEqual(Object.fromEntries(m.properties), { index: i, lang: 'node' });
      assert.equal(m.deliveryAttempt, 1);
    }
    await assertNothingMore(c);
  } finally {
    await c.shutdown();
  }
});

test('a received message is not marked corrupted', async () => {
  const p = await startProducer('node-digest');
  try {
    await p.send({ topic: 'node-digest', body: Buffer.from('intact') });
  } finally {
    await p.shutdown();
  }
  const c = await startConsumer('digest', 'node-digest');
  try {
    const got = await receiveUntil(c, 1);
    assert.deepEqual(got.map(body), [ 'intact' ]);
    // the client compares the body with the digest the server sent along, and sets `corrupted`
    // (otherwise left unset) when they differ
    assert.notEqual(got[0].corrupted, true);
  } finally {
    await c.shutdown();
  }
});

test('TLS producer and consumer', async () => {
  const bodies = Array.from({ length: 5 }, (_, i) => `tls-${i}`);
  const p = await startProducer('node-tls', { sslEnabled: true });
  try {
    for (const b of bodies) {
      await p.send({ topic: 'node-tls', body: Buffer.from(b), tag: 'tls' });
    }
  } finally {
    await p.shutdown();
  }

  const c = await startConsumer('tls', 'node-tls', '*', { sslEnabled: true });
  try {
    const got = await receiveUntil(c, bodies.length);
    assert.deepEqual(got.map(body).sort(), [ ...bodies ].sort());
    assert.ok(got.every(m => m.tag === 'tls'));
    await assertNothingMore(c);
  } finally {
    await c.shutdown();
  }
});

test('FIFO messages arrive with their group, in send order', async () => {
  const groups = [ 'group-a', 'group-b' ];
  const sent = Object.fromEntries(groups.map(g => [ g, Array.from({ length: 8 }, (_, i) => `${g}-${i}`) ]));
  const p = await startProducer('node-fifo');
  try {
    for (let i = 0; i < 8; i++) {
      for (const g of groups) {
        await p.send({ topic: 'node-fifo', body: Buffer.from(sent[g][i]), messageGroup: g });
      }
    }
  } finally {
    await p.shutdown();
  }

  const c = await startConsumer('fifo', 'node-fifo');
  try {
    const got = await receiveUntil(c, 16);
    const byGroup = {};
    for (const m of got) {
      (byGroup[m.messageGroup] ??= []).push(body(m));
    }
    assert.deepEqual(byGroup, sent);
    await assertNothingMore(c);
  } finally {
    await c.shutdown();
  }
});

async function sendDelayed(text, tag) {
  const p = await startProducer('node-delay');
  // whole seconds: the client sends a protobuf Timestamp
  const deliverAt = new Date((Math.floor(Date.now() / 1000) + 3) * 1000);
  try {
    await p.send({ topic: 'node-delay', body: Buffer.from(text), tag, deliveryTimestamp: deliverAt });
  } finally {
    await p.shutdown();
  }
  return deliverAt;
}

test('a delay message is delivered at its delivery time', async () => {
  const deliverAt = await sendDelayed('delayed', 'later');
  const c = await startConsumer('delay', 'node-delay', 'later');
  try {
    const got = await receiveUntil(c, 1);
    const receivedAt = Date.now();
    assert.deepEqual(got.map(body), [ 'delayed' ]);
    assert.equal(got[0].tag, 'later');
    // not handed out before the time it was scheduled for
    assert.ok(receivedAt >= deliverAt.getTime(), `received at ${receivedAt}, due at ${deliverAt.getTime()}`);
    await assertNothingMore(c);
  } finally {
    await c.shutdown();
  }
});

test('a received delay message carries its delivery timestamp', async () => {
  const deliverAt = await sendDelayed('delayed-stamp', 'stamp');
  const c = await startConsumer('delay-stamp', 'node-delay', 'stamp');
  try {
    const got = await receiveUntil(c, 1);
    assert.deepEqual(got.map(body), [ 'delayed-stamp' ]);
    assert.equal(got[0].deliveryTimestamp?.getTime(), deliverAt.getTime());
  } finally {
    await c.shutdown();
  }
});

test('change invisible duration redelivers the message', async () => {
  const p = await startProducer('node-invisible');
  let sentId;
  try {
    sentId = (await p.send({ topic: 'node-invisible', body: Buffer.from('come-back') })).messageId;
  } finally {
    await p.shutdown();
  }

  const c = await startConsumer('invisible', 'node-invisible');
  try {
    const first = await receiveUntil(c, 1, { invisibleMs: 60_000, ack: false });
    assert.deepEqual(first.map(body), [ 'come-back' ]);
    assert.equal(first[0].messageId, sentId);
    assert.equal(first[0].deliveryAttempt, 1);
    // from 60 s to 1 s: without the change it would stay hidden for the whole deadline
    await c.changeInvisibleDuration(first[0], 1_000);
    const again = await receiveUntil(c, 1, { invisibleMs: 60_000, ack: false });
    assert.deepEqual(again.map(body), [ 'come-back' ]);
    assert.equal(again[0].messageId, sentId);
    assert.equal(again[0].deliveryAttempt, 2);
    await c.ack(again[0]);
    await assertNothingMore(c);
  } finally {
    await c.shutdown();
  }
});

test('transactions: commit, rollback and check-back', async () => {
  const checked = [];
  const checker = {
    // commits the half message left open on purpose, rolls back anything else
    async check(m) {
      checked.push(body(m));
      return body(m) === 'tx-orphan' ? TransactionResolution.COMMIT : TransactionResolution.ROLLBACK;
    },
  };
  const p = await startProducer('node-tx', { checker });
  try {
    let tx = p.beginTransaction();
    await p.send({ topic: 'node-tx', body: Buffer.from('tx-commit') }, tx);
    await tx.commit();
    tx = p.beginTransaction();
    await p.send({ topic: 'node-tx', body: Buffer.from('tx-rollback') }, tx);
    await tx.rollback();
    // left open: the broker asks the producer, whose checker commits it
    tx = p.beginTransaction();
    await p.send({ topic: 'node-tx', body: Buffer.from('tx-orphan') }, tx);

    const c = await startConsumer('tx', 'node-tx');
    try {
      const got = await receiveUntil(c, 2);
      assert.deepEqual(got.map(body).sort(), [ 'tx-commit', 'tx-orphan' ]);
      await assertNothingMore(c);
    } finally {
      await c.shutdown();
    }
    assert.ok(checked.includes('tx-orphan'), `checked: ${checked}`);
    assert.ok(!checked.includes('tx-commit'), `checked: ${checked}`);
    assert.ok(!checked.includes('tx-rollback'), `checked: ${checked}`);
  } finally {
    await p.shutdown();
  }
});

// A promise that resolves once `done()` holds, checked now and on every `check()` (called from a
// message listener); rejects at the receive deadline saying what was missing.
function waitFor(done, what) {
  let check;
  const promise = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what()}`)), RECEIVE_DEADLINE_MS);
    check = () => {
      if (done()) {
        clearTimeout(timer);
        resolve();
      }
    };
  });
  check();
  return { promise, check };
}

// The dead-letter topic appears with the first dead letter, a moment after the last failed
// attempt; a consumer's start-up fails while its topic does not exist (after its own retries,
// which pace this loop).
async function startConsumerOnceTopicExists(name, topic) {
  const deadline = Date.now() + RECEIVE_DEADLINE_MS;
  for (;;) {
    try {
      return await startConsumer(name, topic);
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
  }
}

async function startPush(group, topic, consume) {
  const c = new PushConsumer(options({
    consumerGroup: group,
    subscriptions: new Map([[ topic, '*' ]]),
    messageListener: { consume },
    longPollingTimeout: AWAIT_MS,
  }));
  await c.startup();
  return c;
}

test('PushConsumer gets every message once', async () => {
  const bodies = Array.from({ length: 20 }, (_, i) => `push-${i}`);
  const p = await startProducer('node-push');
  try {
    for (const b of bodies) {
      await p.send({ topic: 'node-push', body: Buffer.from(b), tag: 'push' });
    }
  } finally {
    await p.shutdown();
  }

  const got = [];
  const allThere = waitFor(() => got.length >= bodies.length, () => `20 messages, got ${got.length}`);
  const c = await startPush(`node-push-${randomUUID().slice(0, 8)}`, 'node-push', m => {
    got.push(m);
    allThere.check();
    return ConsumeResult.SUCCESS;
  });
  try {
    await allThere.promise;
  } finally {
    await c.shutdown();
  }
  // every message, each once (a duplicate would have arrived before the shutdown finished: the
  // client keeps receiving until then)
  assert.deepEqual(got.map(body).sort(), [ ...bodies ].sort());
  assert.ok(got.every(m => m.tag === 'push' && m.deliveryAttempt === 1));
});

test('PushConsumer: a failing message is retried, then dead-lettered', async () => {
  const group = 'node-push-retry';
  const p = await startProducer('node-push-retry');
  try {
    await p.send({ topic: 'node-push-retry', body: Buffer.from('poison'), keys: [ 'poison-key' ] });
    await p.send({ topic: 'node-push-retry', body: Buffer.from('fine') });
  } finally {
    await p.shutdown();
  }

  const attempts = [];
  let fine = 0;
  const twoTries = waitFor(() => attempts.length >= 2 && fine >= 1,
    () => `two attempts of the poison message and the fine one, got ${attempts} and ${fine}`);
  const c = await startPush(group, 'node-push-retry', m => {
    let result = ConsumeResult.SUCCESS;
    if (body(m) === 'poison') {
      attempts.push(m.deliveryAttempt);
      result = ConsumeResult.FAILURE;
    } else {
      fine += 1;
    }
    twoTries.check();
    return result;
  });
  let dlq;
  try {
    await twoTries.promise;
    // the client hands a failed message back (a change of invisible time: to zero, as it does
    // not implement the customized backoff the server publishes); past the group's last attempt
    // the broker moves it to the dead-letter queue, where a consumer of that topic finds it with
    // its body and keys
    dlq = await startConsumerOnceTopicExists('dlq-reader', `%DLQ%${group}`);
    const dead = await receiveUntil(dlq, 1);
    assert.deepEqual(dead.map(body), [ 'poison' ]);
    assert.deepEqual(dead[0].keys, [ 'poison-key' ]);
  } finally {
    await dlq?.shutdown();
    await c.shutdown();
  }
  // two deliveries (retryMaxTimes 1) and no third: the second failure made it a dead letter
  assert.deepEqual(attempts, [ 1, 2 ]);
  assert.equal(fine, 1);
});

test('FIFO PushConsumer: each message group in send order; a failed message is dead-lettered, then its group goes on', async () => {
  const groups = [ 'group-a', 'group-b' ];
  const sent = Object.fromEntries(groups.map(g => [ g, Array.from({ length: 6 }, (_, i) => `${g}-${i}`) ]));
  const p = await startProducer('node-push-fifo');
  try {
    for (let i = 0; i < 6; i++) {
      for (const g of groups) {
        await p.send({ topic: 'node-push-fifo', body: Buffer.from(sent[g][i]), messageGroup: g });
      }
    }
  } finally {
    await p.shutdown();
  }

  // Each group's bodies in the order the listener took them. `group-a-2` fails: this client gives
  // a FIFO message one attempt when the server's backoff is customized (it implements only the
  // exponential kind; FINDINGS N4), so it forwards it to the dead-letter queue, and only then does
  // its group go on.
  const seen = {};
  const all = waitFor(() => Object.values(seen).flat().length >= 12,
    () => `12 messages, got ${JSON.stringify(seen)}`);
  const c = await startPush('node-push-fifo', 'node-push-fifo', m => {
    (seen[m.messageGroup] ??= []).push(body(m));
    all.check();
    return body(m) === 'group-a-2' ? ConsumeResult.FAILURE : ConsumeResult.SUCCESS;
  });
  let dlq;
  try {
    await all.promise;
    dlq = await startConsumerOnceTopicExists('fifo-dlq-reader', '%DLQ%node-push-fifo');
    const dead = await receiveUntil(dlq, 1);
    assert.deepEqual(dead.map(body), [ 'group-a-2' ]);
  } finally {
    await dlq?.shutdown();
    await c.shutdown();
  }
  assert.deepEqual(seen, sent);
});
