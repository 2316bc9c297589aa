package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.MessageSelector;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** SQL92 property filter (a broker needs enablePropertyFilter=true; ferromq always has it). */
class SqlFilterTest extends CompatTest {
    @Test
    void sqlSelectorDeliversExactlyTheMatchingMessages() throws Exception {
        String topic = unique("Sql");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        Map<String, Message> wanted = new LinkedHashMap<>();
        for (int i = 0; i < 12; i++) {
            Message m = message(topic, i % 2 == 0 ? "TagEven" : "TagOdd", "sql-" + i);
            m.putUserProperty("a", Integer.toString(i));
            if (i != 4) {
                m.putUserProperty("region", i < 8 ? "eu" : "us");
            }
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            // 3..9, in the EU: 3, 5, 6, 7 (4 has no region, so the condition is not true for it)
            if (i >= 3 && i <= 9 && i != 4 && i < 8) {
                wanted.put(m.getUserProperty(ID), m);
            }
        }

        // a matching message last in every queue, so the consumer's offsets reach the end without waiting
        // out a long poll behind messages the filter skipped
        for (MessageQueue mq : queues) {
            Message fence = message(topic, "TagOdd", "fence-q" + mq.getQueueId());
            fence.putUserProperty("a", "5");
            fence.putUserProperty("region", "eu");
            assertEquals(SendStatus.SEND_OK, producer.send(fence, (mqs, msg, arg) -> (MessageQueue) arg, mq).getSendStatus());
            wanted.put(fence.getUserProperty(ID), fence);
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, MessageSelector.bySql("a BETWEEN 3 AND 9 AND region = 'eu'"));
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        await("the " + wanted.size() + " matching messages arrive", Duration.ofSeconds(60), () -> received.containsAll(wanted.keySet()));
        awaitConsumedToEnd(consumer, producer, queues);

        var byId = received.byId();
        assertEquals(wanted.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey());
            assertIntact(wanted.get(e.getKey()), e.getValue().get(0).msg());
        }
    }
}
