package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeOrderlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerOrderly;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** Scenario 3: an orderly push consumer sees each queue's messages in the order they were sent. */
class OrderlyTest extends CompatTest {
    private static final int ORDERS = 6;
    private static final int PER_ORDER = 25;

    @Test
    void orderlyConsumerSeesEachQueueInSendOrder() throws Exception {
        String topic = unique("Orderly");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        MessageQueueSelector byOrder = (mqs, msg, arg) -> mqs.get((Integer) arg % mqs.size());
        Map<Integer, Integer> queueOfOrder = new HashMap<>();
        Map<String, Message> sent = new HashMap<>();
        // interleave the orders, as independent business flows would
        for (int seq = 0; seq < PER_ORDER; seq++) {
            for (int order = 0; order < ORDERS; order++) {
                Message m = message(topic, "TagO", "order" + order + "-" + seq);
                m.putUserProperty("order", Integer.toString(order));
                m.putUserProperty("seq", Integer.toString(seq));
                SendResult r = producer.send(m, byOrder, order);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus());
                queueOfOrder.put(order, r.getMessageQueue().getQueueId());
                sent.put(m.getUserProperty(ID), m);
            }
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerOrderly) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeOrderlyStatus.SUCCESS;
        });
        consumer.start();

        await("all " + sent.size() + " messages arrive", Duration.ofSeconds(60), () -> received.containsAll(sent.keySet()));
        awaitConsumedToEnd(consumer, producer, queues);

        Map<Integer, List<Integer>> seqsByOrder = new HashMap<>();
        Map<Integer, List<Long>> offsetsByQueue = new HashMap<>();
        for (Received.Delivery d : received.all()) {
            int order = Integer.parseInt(d.msg().getUserProperty("order"));
            assertEquals(queueOfOrder.get(order), d.msg().getQueueId(), "queue of " + d.id());
            seqsByOrder.computeIfAbsent(order, k -> new ArrayList<>()).add(Integer.parseInt(d.msg().getUserProperty("seq")));
            offsetsByQueue.computeIfAbsent(d.msg().getQueueId(), k -> new ArrayList<>()).add(d.msg().getQueueOffset());
            assertIntact(sent.get(d.id()), d.msg());
        }
        List<Integer> inOrder = IntStream.range(0, PER_ORDER).boxed().toList();
        for (int order = 0; order < ORDERS; order++) {
            assertEquals(inOrder, seqsByOrder.get(order), "sequence numbers of order " + order + " as delivered");
        }
        for (var e : offsetsByQueue.entrySet()) {
            List<Long> offsets = e.getValue();
            List<Long> expected = IntStream.range(0, offsets.size()).mapToObj(i -> (long) i).toList();
            assertEquals(expected, offsets, "queue offsets of queue " + e.getKey() + " as delivered");
        }
        assertEquals(sent.size(), received.size(), "deliveries");
    }
}
