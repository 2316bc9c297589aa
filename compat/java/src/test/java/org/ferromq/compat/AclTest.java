package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.exception.MQBrokerException;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.apache.rocketmq.remoting.RPCHook;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * ACL 2.0 as the Java client signs it (`AclClientRPCHook`): run by run-acl.sh against a broker with
 * authentication and authorization on, a super user and a normal user allowed `Topic:AclOpen*` (Pub,
 * Sub) and `Group:AclGroup*` (Sub). Skipped in the other runs (their broker has no ACL).
 */
@SuppressWarnings("deprecation")
class AclTest extends CompatTest {
    /** RocketMQ's NO_PERMISSION response code. */
    private static final int NO_PERMISSION = 16;

    private static RPCHook hook(String property) throws Exception {
        String value = System.getProperty(property);
        Assumptions.assumeTrue(Boolean.getBoolean("compat.acl") && value != null, "not an ACL run");
        String[] userAndSecret = value.split(":", 2);
        return signing(userAndSecret[0], userAndSecret[1]);
    }

    /**
     * `new AclClientRPCHook(new SessionCredentials(accessKey, secretKey))`, by reflection: the classes
     * are in rocketmq-acl for 4.x clients (on the class path only in ACL runs) and in rocketmq-client
     * from 5.3 on, so the suite compiles without them.
     */
    private static RPCHook signing(String accessKey, String secretKey) throws Exception {
        Class<?> credentials = Class.forName("org.apache.rocketmq.acl.common.SessionCredentials");
        Object c = credentials.getConstructor(String.class, String.class).newInstance(accessKey, secretKey);
        return (RPCHook) Class.forName("org.apache.rocketmq.acl.common.AclClientRPCHook")
                .getConstructor(credentials).newInstance(c);
    }

    private DefaultMQProducer producer(RPCHook hook) throws MQClientException {
        DefaultMQProducer producer = hook == null ? new DefaultMQProducer(unique("AclGroupP"))
                : new DefaultMQProducer(unique("AclGroupP"), hook);
        configure(producer);
        producer.setRetryTimesWhenSendFailed(0);
        producer.start();
        onTearDown(producer::shutdown);
        return producer;
    }

    /** The response code a refused call carries, wherever the client wrapped it. */
    private static int responseCode(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof MQBrokerException b) {
                return b.getResponseCode();
            }
            if (t instanceof MQClientException c && c.getResponseCode() > 0) {
                return c.getResponseCode();
            }
        }
        return -1;
    }

    private static String messages(Throwable e) {
        StringBuilder all = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            all.append(t.getMessage()).append(" / ");
        }
        return all.toString();
    }

    /** Sends `msg` expecting a refusal with NO_PERMISSION whose text names all of `words`. */
    private static void assertRefused(DefaultMQProducer producer, Message msg, String... words) {
        try {
            producer.send(msg);
            fail("the send to " + msg.getTopic() + " was accepted");
        } catch (Exception e) {
            assertEquals(NO_PERMISSION, responseCode(e), "refusal code: " + messages(e));
            for (String w : words) {
                assertTrue(messages(e).contains(w), "the refusal names " + w + ": " + messages(e));
            }
        }
    }

    @Test
    void signedClientsSendAndPullAndTheRestAreRefused() throws Exception {
        RPCHook root = hook("compat.acl.root");
        RPCHook alice = hook("compat.acl.user");
        String user = System.getProperty("compat.acl.user").split(":", 2)[0];

        DefaultMQProducer rootProducer = producer(root);
        String open = unique("AclOpen");
        String secret = unique("AclSecret");
        List<MessageQueue> queues = createTopic(rootProducer, open, 2);
        createTopic(rootProducer, secret, 1);

        Map<String, Message> sent = new HashMap<>();
        DefaultMQProducer aliceProducer = producer(alice);
        for (int i = 0; i < 10; i++) {
            Message m = message(open, "TagA", (i % 2 == 0 ? "root-" : "alice-") + i);
            DefaultMQProducer p = i % 2 == 0 ? rootProducer : aliceProducer;
            assertEquals(SendStatus.SEND_OK, p.send(m).getSendStatus(), "send of " + m.getUserProperty(ID));
            sent.put(m.getUserProperty(ID), m);
        }

        // The normal user pulls everything back under an allowed group: each message once, intact.
        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer(unique("AclGroupC"), alice);
        configure(consumer);
        consumer.start();
        onTearDown(consumer::shutdown);
        Map<String, MessageExt> got = new HashMap<>();
        for (MessageQueue mq : queues) {
            PullResult r = consumer.pull(mq, "*", 0, 32);
            assertEquals(PullStatus.FOUND, r.getPullStatus(), "pull of " + mq);
            for (MessageExt m : r.getMsgFoundList()) {
                assertEquals(null, got.put(m.getUserProperty(ID), m), "pulled twice: " + m.getUserProperty(ID));
            }
        }
        assertEquals(sent.keySet(), got.keySet());
        for (Message m : sent.values()) {
            assertIntact(m, got.get(m.getUserProperty(ID)));
        }

        // A topic the user has no policy for: refused, naming the user, the topic and the action.
        assertRefused(aliceProducer, message(secret, "TagA", "denied"), user, secret, "Pub");
        // A wrong secret and no signature at all: refused before any handler.
        String[] userAndSecret = System.getProperty("compat.acl.user").split(":", 2);
        DefaultMQProducer forged = producer(signing(userAndSecret[0], userAndSecret[1] + "-wrong"));
        assertRefused(forged, message(open, "TagA", "forged"));
        DefaultMQProducer unsigned = producer(null);
        assertRefused(unsigned, message(open, "TagA", "unsigned"));

        // Nothing refused was stored: the queues still hold exactly the ten messages.
        for (MessageQueue mq : queues) {
            PullResult r = consumer.pull(mq, "*", 0, 32);
            for (MessageExt m : r.getMsgFoundList()) {
                assertTrue(sent.containsKey(m.getUserProperty(ID)), "stored although refused: " + m.getUserProperty(ID));
            }
        }
    }
}
