package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** Scenario 2: a push consumer subscribed with "TagA || TagB" gets exactly the messages with those tags. */
class TagFilterTest extends CompatTest {
    @Test
    void tagExpressionDeliversOnlyTheNamedTags() throws Exception {
        String topic = unique("Tags");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        Map<String, Message> wanted = new LinkedHashMap<>();
        int sentCount = 0;
        // TagAB and TagAA share a prefix with the wanted tags; a message without a tag has none.
        for (String tag : new String[] {"TagA", "TagB", "TagC", "TagAB", "TagAA", null}) {
            for (int i = 0; i < 8; i++) {
                Message m = message(topic, tag, tag + "-" + i);
                assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
                sentCount++;
                if ("TagA".equals(tag) || "TagB".equals(tag)) {
                    wanted.put(m.getUserProperty(ID), m);
                }
            }
        }

        // a matching message last in every queue, so the consumer's offsets reach the end without waiting
        // out a long poll behind messages the filter skipped
        for (MessageQueue mq : queues) {
            Message fence = message(topic, "TagB", "fence-q" + mq.getQueueId());
            assertEquals(SendStatus.SEND_OK, producer.send(fence, (mqs, msg, arg) -> (MessageQueue) arg, mq).getSendStatus());
            sentCount++;
            wanted.put(fence.getUserProperty(ID), fence);
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "TagA || TagB");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        await("the " + wanted.size() + " TagA/TagB messages arrive", Duration.ofSeconds(60),
                () -> received.containsAll(wanted.keySet()));
        awaitConsumedToEnd(consumer, producer, queues);

        assertEquals(sentCount, storedCount(producer, queues), "messages stored in the topic");
        var byId = received.byId();
        assertEquals(wanted.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey());
            assertIntact(wanted.get(e.getKey()), e.getValue().get(0).msg());
        }
    }
}
