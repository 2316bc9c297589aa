package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/**
 * Scenario 4: delay levels (1 = 1 s, 2 = 5 s in the default messageDelayLevel), and with a 5.x client
 * the delivery time (setDeliverTimeMs, the TIMER_DELIVER_MS property), which the 4.9.x client lacks.
 */
class DelayTest extends CompatTest {
    /** The broker checks due messages every 100 ms or so; a message may never arrive early by more than clock noise. */
    private static final long EARLY_TOLERANCE_MS = 50;

    @Test
    void delayedMessagesArriveNoEarlierThanTheirLevelAndIntact() throws Exception {
        String topic = unique("Delay");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        Map<String, Message> sent = new HashMap<>();
        Map<String, Long> dueAt = new HashMap<>();
        long[] delayOfLevel = {0, 1_000, 5_000};
        for (int level : new int[] {2, 1, 0}) {
            for (int i = 0; i < 3; i++) {
                Message m = message(topic, "TagD", "level" + level + "-" + i);
                if (level > 0) {
                    m.setDelayTimeLevel(level);
                }
                long before = System.currentTimeMillis();
                SendResult r = producer.send(m);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus());
                sent.put(m.getUserProperty(ID), m);
                dueAt.put(m.getUserProperty(ID), before + delayOfLevel[level]);
            }
        }

        await("all " + sent.size() + " messages arrive", Duration.ofSeconds(60), () -> received.containsAll(sent.keySet()));
        awaitConsumedToEnd(consumer, producer, queues);

        var byId = received.byId();
        assertEquals(sent.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey());
            Received.Delivery d = e.getValue().get(0);
            assertIntact(sent.get(e.getKey()), d.msg());
            long early = dueAt.get(e.getKey()) - d.atMillis();
            assertTrue(early <= EARLY_TOLERANCE_MS, e.getKey() + " arrived " + early + " ms before it was due");
        }
        // How late a message may arrive depends on the machine's load: only earliness is asserted.
    }

    @Test
    void messagesWithADeliveryTimeArriveNoEarlierThanItAndIntact() throws Exception {
        Method setDeliverTimeMs = deliverTimeSetter();
        assumeTrue(setDeliverTimeMs != null, "client " + clientVersion() + " has no Message.setDeliverTimeMs (5.x only)");
        String topic = unique("DeliverAt");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        Map<String, Message> sent = new HashMap<>();
        Map<String, Long> dueAt = new HashMap<>();
        // 3 s and 6 s from now, and one not delayed: the later ones go first so order cannot hide earliness
        for (long delay : new long[] {6_000, 3_000, 0}) {
            for (int i = 0; i < 2; i++) {
                Message m = message(topic, "TagT", "at" + delay + "-" + i);
                long due = System.currentTimeMillis() + delay;
                if (delay > 0) {
                    setDeliverTimeMs.invoke(m, due);
                }
                SendResult r = producer.send(m);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus());
                sent.put(m.getUserProperty(ID), m);
                dueAt.put(m.getUserProperty(ID), due);
            }
        }

        await("all " + sent.size() + " messages arrive", Duration.ofSeconds(60), () -> received.containsAll(sent.keySet()));
        awaitConsumedToEnd(consumer, producer, queues);

        var byId = received.byId();
        assertEquals(sent.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey());
            Received.Delivery d = e.getValue().get(0);
            assertIntact(sent.get(e.getKey()), d.msg());
            long early = dueAt.get(e.getKey()) - d.atMillis();
            assertTrue(early <= EARLY_TOLERANCE_MS, e.getKey() + " arrived " + early + " ms before it was due");
        }
    }

    private static Method deliverTimeSetter() {
        try {
            return Message.class.getMethod("setDeliverTimeMs", long.class);
        } catch (NoSuchMethodException notInThisClient) {
            return null;
        }
    }
}
