package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.store.ReadOffsetType;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.AfterEach;

/**
 * What every scenario needs: the name server address, unique names, clients that are shut down after
 * the test, topics created through the client, and waiting on conditions with deadlines.
 */
abstract class CompatTest {
    /** The user properties every test message carries, so a test can tell its messages apart and check them. */
    static final String ID = "compat_id";
    static final String NOTE = "compat_note";
    static final String NOTE_VALUE = "héllo wörld ✓ a=b;c:d";

    private final Deque<Runnable> shutdowns = new ArrayDeque<>();

    static String namesrv() {
        String addr = System.getProperty("namesrv");
        if (addr == null || addr.isBlank()) {
            throw new IllegalStateException("pass the name server address: -Dnamesrv=HOST:PORT");
        }
        return addr;
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    @AfterEach
    void shutDownClients() {
        while (!shutdowns.isEmpty()) {
            shutdowns.pop().run();
        }
    }

    /** Registers a client's shutdown; clients are shut down in reverse order after the test. */
    void onTearDown(Runnable shutdown) {
        shutdowns.push(shutdown);
    }

    DefaultMQProducer startProducer(String group) throws MQClientException {
        DefaultMQProducer producer = new DefaultMQProducer(group);
        configure(producer);
        producer.start();
        onTearDown(producer::shutdown);
        return producer;
    }

    /** A push consumer reading a new group from the first offset; not started. */
    DefaultMQPushConsumer pushConsumer(String group) {
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        configure(consumer);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        onTearDown(consumer::shutdown);
        return consumer;
    }

    /**
     * Sets the BROADCASTING message model. The enum moved between client versions (4.x
     * `common.protocol.heartbeat`, 5.x `remoting.protocol.heartbeat`), so it is found from the setter's
     * parameter type and the same source compiles against both.
     */
    static void setBroadcasting(DefaultMQPushConsumer consumer) {
        for (var m : DefaultMQPushConsumer.class.getMethods()) {
            if (m.getName().equals("setMessageModel") && m.getParameterCount() == 1) {
                @SuppressWarnings({"unchecked", "rawtypes"})
                Object broadcasting = Enum.valueOf((Class) m.getParameterTypes()[0], "BROADCASTING");
                unchecked(() -> m.invoke(consumer, broadcasting));
                return;
            }
        }
        throw new AssertionError("DefaultMQPushConsumer has no setMessageModel");
    }

    /** The client's version (rocketmq-client on the class path), e.g. "4.9.8" or "5.3.3". */
    static String clientVersion() {
        return org.apache.rocketmq.common.MQVersion.getVersionDesc(org.apache.rocketmq.common.MQVersion.CURRENT_VERSION);
    }

    /** Every client gets its own instance name, so each has its own connections and rebalance. */
    static void configure(org.apache.rocketmq.client.ClientConfig client) {
        client.setNamesrvAddr(namesrv());
        client.setInstanceName(unique("compat"));
    }

    /** Creates the topic through the producer (route of TBW102) and waits until the name server routes it. */
    static List<MessageQueue> createTopic(DefaultMQProducer producer, String topic, int queues) throws Exception {
        createTopicCall(producer, topic, queues);
        AtomicReference<List<MessageQueue>> found = new AtomicReference<>();
        await("name server routes " + topic + " with " + queues + " queues", Duration.ofSeconds(30), () -> {
            try {
                found.set(producer.fetchPublishMessageQueues(topic));
                return found.get().size() == queues;
            } catch (MQClientException notYet) {
                return false;
            }
        });
        List<MessageQueue> sorted = new ArrayList<>(found.get());
        sorted.sort(MessageQueue::compareTo);
        return sorted;
    }

    /**
     * `producer.createTopic(key, topic, queues)` in 4.x; 5.x replaced it with overloads taking topic
     * attributes (a Map). Calls whichever the client has, with no flags and no attributes.
     */
    private static void createTopicCall(DefaultMQProducer producer, String topic, int queues) throws Exception {
        java.lang.reflect.Method best = null;
        for (var m : DefaultMQProducer.class.getMethods()) {
            Class<?>[] p = m.getParameterTypes();
            if (m.getName().equals("createTopic") && p.length >= 3 && p[0] == String.class && p[1] == String.class
                    && p[2] == int.class && (best == null || p.length < best.getParameterCount())) {
                best = m;
            }
        }
        if (best == null) {
            throw new AssertionError("DefaultMQProducer has no createTopic(String, String, int, ...)");
        }
        Object[] args = new Object[best.getParameterCount()];
        args[0] = "TBW102";
        args[1] = topic;
        args[2] = queues;
        for (int i = 3; i < args.length; i++) {
            Class<?> t = best.getParameterTypes()[i];
            args[i] = t == int.class ? (Object) 0 : t == Map.class ? new java.util.HashMap<String, String>() : null;
        }
        try {
            best.invoke(producer, args);
        } catch (java.lang.reflect.InvocationTargetException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        }
    }

    /** Polls the condition every 20 ms until it holds; fails the test when the deadline passes. */
    static void await(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout.toSeconds() + " s waiting until " + what);
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting until " + what);
            }
        }
    }

    static <T> T unchecked(Callable<T> call) {
        try {
            return call.call();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Messages stored in the topic's queues, from the broker's min and max offsets. */
    static long storedCount(DefaultMQProducer producer, List<MessageQueue> queues) throws MQClientException {
        long n = 0;
        for (MessageQueue mq : queues) {
            n += producer.maxOffset(mq) - producer.minOffset(mq);
        }
        return n;
    }

    /**
     * Waits until the push consumer has consumed (or filtered past) everything stored in the queues:
     * its offset for every queue has reached the queue's max offset. After this, a message it has not
     * handed to the listener will never be handed to it.
     */
    static void awaitConsumedToEnd(DefaultMQPushConsumer consumer, DefaultMQProducer producer, List<MessageQueue> queues) {
        Map<MessageQueue, Long> max = new LinkedHashMap<>();
        for (MessageQueue mq : queues) {
            max.put(mq, unchecked(() -> producer.maxOffset(mq)));
        }
        await("the consumer's offsets reach " + max.values(), Duration.ofSeconds(30), () -> max.entrySet().stream()
                .allMatch(e -> consumer.getDefaultMQPushConsumerImpl().getOffsetStore()
                        .readOffset(e.getKey(), ReadOffsetType.READ_FROM_MEMORY) >= e.getValue()));
    }

    /** A test message: tag, key and the two user properties set, and a body that is not plain ASCII. */
    static Message message(String topic, String tag, String id) {
        Message msg = new Message(topic, tag, "key-" + id, body(id));
        msg.putUserProperty(ID, id);
        msg.putUserProperty(NOTE, NOTE_VALUE);
        return msg;
    }

    static byte[] body(String id) {
        byte[] text = ("body of " + id + " — ünïcödé ").getBytes(StandardCharsets.UTF_8);
        byte[] b = new byte[text.length + 256];
        System.arraycopy(text, 0, b, 0, text.length);
        for (int i = 0; i < 256; i++) {
            b[text.length + i] = (byte) i;
        }
        return b;
    }

    /** Checks what a user checks on a received message: topic, tag, keys, body and user properties. */
    static void assertIntact(Message sent, MessageExt got) {
        String id = sent.getUserProperty(ID);
        assertEquals(sent.getTopic(), got.getTopic(), "topic of " + id);
        assertEquals(sent.getTags(), got.getTags(), "tag of " + id);
        assertEquals(sent.getKeys(), got.getKeys(), "keys of " + id);
        assertArrayEquals(sent.getBody(), got.getBody(), "body of " + id);
        assertEquals(id, got.getUserProperty(ID));
        assertEquals(sent.getUserProperty(NOTE), got.getUserProperty(NOTE), "user property of " + id);
    }
}
