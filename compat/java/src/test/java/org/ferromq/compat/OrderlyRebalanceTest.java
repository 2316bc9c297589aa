package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/**
 * Orderly consumption across a rebalance: while messages keep coming, a second orderly consumer joins
 * the group and takes over some queues. Across both consumers, no order ever goes backwards or skips
 * ahead: a message is handed to a listener only after every earlier message of its order was. (A
 * message may be handed over twice around the move; RocketMQ promises at-least-once.)
 */
class OrderlyRebalanceTest extends CompatTest {
    private static final int ORDERS = 8;

    @Test
    void orderHoldsWhenASecondOrderlyConsumerJoins() throws Exception {
        String topic = unique("OrderlyMove");
        String group = unique("cg");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        // every listener call appends here, in the order the calls happened across both consumers
        List<MessageExt> handedOver = new ArrayList<>();
        Map<String, Message> sent = new ConcurrentHashMap<>();
        Map<String, Integer> deliveriesByConsumer = new ConcurrentHashMap<>();
        DefaultMQPushConsumer[] consumers = {startOrderly(group, topic, "first", handedOver, deliveriesByConsumer), null};

        MessageQueueSelector byOrder = (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size());
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger rounds = new AtomicInteger();
        AtomicReference<Throwable> sendError = new AtomicReference<>();
        Thread sender = new Thread(() -> {
            try {
                for (int seq = 0; !stop.get() || seq < 40; seq++) {
                    for (int order = 0; order < ORDERS; order++) {
                        Message m = message(topic, "TagO", "o" + order + "-" + seq);
                        assertEquals(SendStatus.SEND_OK, producer.send(m, byOrder, order).getSendStatus());
                        sent.put(m.getUserProperty(ID), m);
                    }
                    rounds.set(seq + 1);
                    Thread.sleep(50); // pacing only: keeps messages arriving while the group rebalances
                }
            } catch (Throwable e) {
                sendError.set(e);
            }
        }, "compat-orderly-sender");
        sender.start();

        await("the first consumer is consuming", Duration.ofSeconds(30), () -> deliveriesByConsumer.getOrDefault("first", 0) > 0);
        consumers[1] = startOrderly(group, topic, "second", handedOver, deliveriesByConsumer);
        await("the second consumer takes over queues and consumes", Duration.ofSeconds(90),
                () -> deliveriesByConsumer.getOrDefault("second", 0) > 20 || sendError.get() != null);
        stop.set(true);
        sender.join(60_000);
        assertEquals(null, sendError.get(), "send error");

        await("every message is handed over", Duration.ofSeconds(60), () -> {
            synchronized (handedOver) {
                return handedOver.stream().map(m -> m.getUserProperty(ID)).collect(Collectors.toSet()).containsAll(sent.keySet());
            }
        });

        List<String> calls = new ArrayList<>();
        synchronized (handedOver) {
            for (MessageExt m : handedOver) {
                calls.add(m.getUserProperty(ID));
                assertIntact(sent.get(m.getUserProperty(ID)), m);
            }
        }
        Map<Integer, Integer> nextExpected = new HashMap<>();
        for (String id : calls) {
            String[] parts = id.substring(1).split("-");
            int order = Integer.parseInt(parts[0]);
            int seq = Integer.parseInt(parts[1]);
            int highest = nextExpected.getOrDefault(order, 0);
            assertTrue(seq <= highest, "order " + order + " skipped ahead to " + seq + " before " + highest + " was handed over");
            nextExpected.put(order, Math.max(highest, seq + 1));
        }
        for (int order = 0; order < ORDERS; order++) {
            assertEquals(rounds.get(), nextExpected.get(order), "messages of order " + order + " handed over");
        }
        assertEquals(sent.keySet(), new TreeSet<>(calls), "ids handed over");
        assertEquals(sent.size(), calls.size(), "listener calls: each message handed over once");
        assertTrue(deliveriesByConsumer.get("first") > 0 && deliveriesByConsumer.get("second") > 0,
                "both consumers consumed: " + deliveriesByConsumer);
    }

    private DefaultMQPushConsumer startOrderly(String group, String topic, String name, List<MessageExt> handedOver,
            Map<String, Integer> deliveriesByConsumer) throws Exception {
        DefaultMQPushConsumer consumer = pushConsumer(group);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            synchronized (handedOver) {
                handedOver.addAll(msgs);
            }
            deliveriesByConsumer.merge(name, msgs.size(), Integer::sum);
            return ConsumeOrderlyStatus.SUCCESS;
        });
        consumer.start();
        return consumer;
    }
}
