"""The Python RocketMQ 5 client (rocketmq-python-client) against ferromq's gRPC endpoint.

Run by run.sh, which starts `ferromq dev`, creates one topic per scenario (so a consumer group that
starts at a queue's first message must see exactly what its scenario sent) and passes the endpoint
in FERROMQ_GRPC. TLS scenarios trust the server's certificate through
GRPC_DEFAULT_SSL_ROOTS_FILE_PATH, also set by run.sh.
"""

import os
import threading
import time
import uuid

import pytest
from rocketmq import (
    ClientConfiguration,
    ConsumeResult,
    Credentials,
    FilterExpression,
    Message,
    MessageListener,
    Producer,
    PushConsumer,
    SimpleConsumer,
    TransactionChecker,
    TransactionResolution,
)

GRPC = os.environ["FERROMQ_GRPC"]
NORMAL_TOPIC = "py-normal"
SPREAD_TOPIC = "py-spread"  # the only topic with 4 queues
TLS_TOPIC = "py-tls"
INVISIBLE_TOPIC = "py-invisible"
FIFO_TOPIC = "py-fifo"
DELAY_TOPIC = "py-delay"
TX_TOPIC = "py-tx"
PUSH_TOPIC = "py-push"

# How long a scenario waits for what it sent; a healthy run needs a few seconds at most.
RECEIVE_DEADLINE_S = 60
# Long-polling time of one ReceiveMessage, and so how long "nothing more arrives" is watched.
AWAIT_S = 3

def configuration():
    return ClientConfiguration(GRPC, Credentials(), request_timeout=10)


def group(name):
    return f"py-{name}-{uuid.uuid4().hex[:8]}"


def message(topic, body, tag=None, keys=(), properties=None):
    m = Message()
    m.topic = topic
    m.body = body.encode()
    if tag:
        m.tag = tag
    for k in keys:
        # the setter takes one key per assignment and adds it to the set
        m.keys = k
    for k, v in (properties or {}).items():
        m.add_property(k, v)
    return m


def start_producer(topic, tls=False, checker=None):
    p = Producer(configuration(), (topic,), checker=checker, tls_enable=tls)
    p.startup()
    return p


def start_consumer(name, topic, expression="*", tls=False):
    c = SimpleConsumer(
        configuration(),
        group(name),
        {topic: FilterExpression(expression)},
        await_duration=AWAIT_S,
        tls_enable=tls,
    )
    c.startup()
    return c


def body(m):
    return m.body.decode()


def receive_until(consumer, count, invisible_s=30, ack=True):
    """Receives (and acks) until `count` messages arrived; returns them in arrival order."""
    got = []
    deadline = time.monotonic() + RECEIVE_DEADLINE_S
    while len(got) < count and time.monotonic() < deadline:
        for m in consumer.receive(16, invisible_s):
            got.append(m)
            if ack:
                consumer.ack(m)
    return got


def assert_nothing_more(consumer):
    """One more long poll: every message was acked, so nothing may be delivered again."""
    extra = consumer.receive(16, 30)
    assert [body(m) for m in extra] == []


def test_normal_messages_keep_tag_keys_and_properties_and_the_tag_filter_holds():
    bodies = [f"normal-{i}" for i in range(10)]
    others = [f"other-{i}" for i in range(3)]
    p = start_producer(NORMAL_TOPIC)
    try:
        for i, b in enumerate(bodies):
            receipt = p.send(
                message(NORMAL_TOPIC, b, tag="pytag", keys=(f"key-{i}",), properties={"index": str(i), "lang": "python"})
            )
            assert receipt.message_id
        for b in others:
            p.send(message(NORMAL_TOPIC, b, tag="othertag"))
    finally:
        p.shutdown()

    c = start_consumer("normal", NORMAL_TOPIC, "pytag")
    try:
        got = receive_until(c, len(bodies))
        assert sorted(body(m) for m in got) == sorted(bodies)
        for m in got:
            i = body(m).split("-")[1]
            assert m.topic == NORMAL_TOPIC
            assert m.tag == "pytag"
            assert set(m.keys) == {f"key-{i}"}
            assert m.properties == {"index": i, "lang": "python"}
            assert m.delivery_attempt == 1
        assert_nothing_more(c)
    finally:
        c.shutdown()


def test_one_receive_gets_what_waits_in_every_queue_of_the_topic():
    # The server picks the queue of each message (the queue in the client's receipt is only the
    # one it asked for), so the 8 messages may land on any of the 4 queues. The client names one queue
    # in ReceiveMessage; Apache's proxy pops every queue of the topic on that broker for it.
    bodies = [f"spread-{i}" for i in range(8)]
    p = start_producer(SPREAD_TOPIC)
    try:
        for b in bodies:
            p.send(message(SPREAD_TOPIC, b))
    finally:
        p.shutdown()

    c = start_consumer("spread", SPREAD_TOPIC)
    try:
        got = c.receive(16, 30)
        for m in got:
            c.ack(m)
        assert sorted(body(m) for m in got) == sorted(bodies)
    finally:
        c.shutdown()


def test_tls_producer_and_consumer():
    bodies = [f"tls-{i}" for i in range(5)]
    p = start_producer(TLS_TOPIC, tls=True)
    try:
        for b in bodies:
            p.send(message(TLS_TOPIC, b, tag="tls"))
    finally:
        p.shutdown()

    c = start_consumer("tls", TLS_TOPIC, tls=True)
    try:
        got = receive_until(c, len(bodies))
        assert sorted(body(m) for m in got) == sorted(bodies)
        assert all(m.tag == "tls" for m in got)
        assert_nothing_more(c)
    finally:
        c.shutdown()


def test_fifo_messages_arrive_with_their_group_in_send_order():
    sent = {g: [f"{g}-{i}" for i in range(8)] for g in ("group-a", "group-b")}
    p = start_producer(FIFO_TOPIC)
    try:
        for i in range(8):
            for g, bodies in sent.items():
                m = message(FIFO_TOPIC, bodies[i])
                m.message_group = g
                p.send(m)
    finally:
        p.shutdown()

    c = start_consumer("fifo", FIFO_TOPIC)
    try:
        got = receive_until(c, 16)
        by_group = {}
        for m in got:
            by_group.setdefault(m.message_group, []).append(body(m))
        assert by_group == sent
        assert_nothing_more(c)
    finally:
        c.shutdown()


def send_delayed(body_text, tag, delay_s=3):
    """Sends one DELAY message; returns the second it is due (what the client puts on the wire)."""
    p = start_producer(DELAY_TOPIC)
    try:
        m = message(DELAY_TOPIC, body_text, tag=tag)
        # the client copies this value into the protobuf Timestamp's seconds
        deliver_at_s = int(time.time()) + delay_s
        m.delivery_timestamp = deliver_at_s
        p.send(m)
    finally:
        p.shutdown()
    return deliver_at_s


def test_delay_message_is_delivered_at_its_delivery_time():
    deliver_at_s = send_delayed("delayed", "later")
    c = start_consumer("delay", DELAY_TOPIC, "later")
    try:
        got = receive_until(c, 1)
        received_at_ms = time.time() * 1000
        assert [body(m) for m in got] == ["delayed"]
        assert got[0].tag == "later"
        # not handed out before the time it was scheduled for
        assert received_at_ms >= deliver_at_s * 1000
        assert_nothing_more(c)
    finally:
        c.shutdown()


def test_received_delay_message_carries_its_delivery_timestamp():
    deliver_at_s = send_delayed("delayed-stamp", "stamp")
    c = start_consumer("delay-stamp", DELAY_TOPIC, "stamp")
    try:
        got = receive_until(c, 1)
        assert [body(m) for m in got] == ["delayed-stamp"]
        assert Message.message_type_desc(got[0].message_type) == "DELAY"
        assert got[0].delivery_timestamp == deliver_at_s * 1000
    finally:
        c.shutdown()


def test_change_invisible_duration_redelivers_the_message():
    p = start_producer(INVISIBLE_TOPIC)
    try:
        sent_id = p.send(message(INVISIBLE_TOPIC, "come-back")).message_id
    finally:
        p.shutdown()

    c = start_consumer("invisible", INVISIBLE_TOPIC)
    try:
        first = receive_until(c, 1, invisible_s=60, ack=False)
        assert [body(m) for m in first] == ["come-back"]
        assert first[0].message_id == sent_id
        assert first[0].delivery_attempt == 1
        # from 60 s to 1 s: without the change it would stay hidden for the whole deadline
        c.change_invisible_duration(first[0], 1)
        again = receive_until(c, 1, invisible_s=60, ack=False)
        assert [body(m) for m in again] == ["come-back"]
        assert again[0].message_id == sent_id
        assert again[0].delivery_attempt == 2
        c.ack(again[0])
        assert_nothing_more(c)
    finally:
        c.shutdown()


class Collector(MessageListener):
    """Records every body it is handed; `done` is set once `expected` distinct bodies arrived."""

    def __init__(self, expected):
        self.expected = expected
        self.bodies = []
        self.lock = threading.Lock()
        self.done = threading.Event()

    def consume(self, m):
        with self.lock:
            self.bodies.append(body(m))
            if len(set(self.bodies)) >= self.expected:
                self.done.set()
        return ConsumeResult.SUCCESS


def test_push_consumer_gets_every_message_once():
    bodies = [f"push-{i}" for i in range(10)]
    p = start_producer(PUSH_TOPIC)
    try:
        for b in bodies:
            p.send(message(PUSH_TOPIC, b, tag="push"))
    finally:
        p.shutdown()

    listener = Collector(len(bodies))
    c = PushConsumer(configuration(), group("push"), listener, {PUSH_TOPIC: FilterExpression("push")})
    c.startup()
    try:
        assert listener.done.wait(RECEIVE_DEADLINE_S), f"got {listener.bodies}"
    finally:
        c.shutdown()
    # every success was acked before shutdown returned, so nothing was handed out twice
    with listener.lock:
        assert sorted(listener.bodies) == sorted(bodies)


class Checker(TransactionChecker):
    """Commits the half message left open on purpose, rolls back anything else."""

    def __init__(self):
        self.checked = []
        self.lock = threading.Lock()

    def check(self, m):
        with self.lock:
            self.checked.append(body(m))
        if body(m) == "tx-orphan":
            return TransactionResolution.COMMIT
        return TransactionResolution.ROLLBACK


def test_transactions_commit_rollback_and_check_back():
    checker = Checker()
    p = start_producer(TX_TOPIC, checker=checker)
    try:
        t = p.begin_transaction()
        p.send(message(TX_TOPIC, "tx-commit"), t)
        t.commit()
        t = p.begin_transaction()
        p.send(message(TX_TOPIC, "tx-rollback"), t)
        t.rollback()
        # left open: the broker asks the producer, whose checker commits it
        t = p.begin_transaction()
        p.send(message(TX_TOPIC, "tx-orphan"), t)

        c = start_consumer("tx", TX_TOPIC)
        try:
            got = receive_until(c, 2)
            assert sorted(body(m) for m in got) == ["tx-commit", "tx-orphan"]
            assert_nothing_more(c)
        finally:
            c.shutdown()
        with checker.lock:
            assert "tx-orphan" in checker.checked
            assert "tx-commit" not in checker.checked
            assert "tx-rollback" not in checker.checked
    finally:
        p.shutdown()
