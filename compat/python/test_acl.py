"""The Python RocketMQ 5 client signing with `Credentials(ak, sk)` against a ferromq whose broker has
authentication and authorization on.

Run by run-acl.sh, which creates the user and its ACL with `ferromq admin` and passes the endpoint
in FERROMQ_GRPC and `user:secret` in FERROMQ_ACL_USER: the allowed user sends and consumes every
message of its topic; a wrong secret is refused as UNAUTHORIZED, a topic outside the user's ACL as
FORBIDDEN.

The client does not raise the server's status from a failed route query: it logs it (code and
message) and raises "failed to fetch topic ... route". So a refusal is checked as a user sees it:
the call fails, and the client's log says why, with the server's code.
"""

import os
import time
import uuid

import pytest
from rocketmq import ClientConfiguration, Credentials, FilterExpression, Message, Producer, SimpleConsumer
from rocketmq.v5.exception.client_exception import ClientException, ForbiddenException, UnauthorizedException

GRPC = os.environ["FERROMQ_GRPC"]
USER, SECRET = os.environ["FERROMQ_ACL_USER"].split(":", 1)
OPEN = "py-acl-open"
DENIED = "py-acl-denied"
GROUP_PREFIX = "py-acl-"
# v5 status codes (apache.rocketmq.v2.Code).
UNAUTHORIZED = 40100
FORBIDDEN = 40300


def signed_as(ak, sk):
    return ClientConfiguration(GRPC, Credentials(ak, sk), request_timeout=10)


def message(topic, body):
    m = Message()
    m.topic = topic
    m.body = body.encode()
    return m


def refusal(action, caplog):
    """What the client said when `action` failed: its exception and its error log; fails if it
    succeeded."""
    caplog.clear()
    with caplog.at_level("ERROR"):
        try:
            action()
        except Exception as e:  # noqa: BLE001 - the client raises plain exceptions
            c = e
            while c is not None and not isinstance(c, ClientException):
                c = c.__cause__ or c.__context__
            return c or e, caplog.text
    pytest.fail("the call succeeded")


def test_the_allowed_user_sends_and_consumes_every_message_of_its_topic():
    run = f"acl-{uuid.uuid4()}-"
    sent = {f"{run}{i}" for i in range(5)}
    p = Producer(signed_as(USER, SECRET), (OPEN,))
    p.startup()
    try:
        for b in sorted(sent):
            assert p.send(message(OPEN, b)).message_id
    finally:
        p.shutdown()
    c = SimpleConsumer(
        signed_as(USER, SECRET),
        f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}",
        {OPEN: FilterExpression("*")},
        await_duration=3,
    )
    c.startup()
    got = set()
    try:
        deadline = time.monotonic() + 60
        while not sent <= got and time.monotonic() < deadline:
            for m in c.receive(16, 30):
                b = m.body.decode()
                if b.startswith(run):
                    got.add(b)
                c.ack(m)
    finally:
        c.shutdown()
    assert got == sent


def test_a_wrong_secret_is_refused_as_unauthorized(caplog):
    def send_with_wrong_secret():
        p = Producer(signed_as(USER, SECRET + "-wrong"), (OPEN,))
        try:
            p.startup()
            p.send(message(OPEN, "never"))
        finally:
            p.shutdown()

    e, log = refusal(send_with_wrong_secret, caplog)
    said = f"{e}\n{log}"
    assert isinstance(e, UnauthorizedException) or f"{UNAUTHORIZED}, " in log, said
    assert "check signature failed" in said, said


def test_a_topic_outside_the_acl_is_forbidden_for_sending_and_for_receiving(caplog):
    def send_to_denied():
        p = Producer(signed_as(USER, SECRET))
        p.startup()
        try:
            p.send(message(DENIED, "never"))
        finally:
            p.shutdown()

    e, log = refusal(send_to_denied, caplog)
    said = f"{e}\n{log}"
    assert isinstance(e, ForbiddenException) or f"{FORBIDDEN}, " in log, said
    assert f"User:{USER}" in said and f"Topic:{DENIED}" in said, said

    def receive_from_denied():
        c = SimpleConsumer(
            signed_as(USER, SECRET),
            f"{GROUP_PREFIX}{uuid.uuid4().hex[:8]}",
            {DENIED: FilterExpression("*")},
            await_duration=1,
        )
        try:
            c.startup()
            c.receive(1, 30)
        finally:
            c.shutdown()

    e, log = refusal(receive_from_denied, caplog)
    said = f"{e}\n{log}"
    assert isinstance(e, ForbiddenException) or f"{FORBIDDEN}, " in log, said
    assert f"Topic:{DENIED}" in said, said
