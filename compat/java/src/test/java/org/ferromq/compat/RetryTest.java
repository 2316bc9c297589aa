package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import org.junit.jupiter.api.Test;

/**
 * Scenario 7: a listener that answers RECONSUME_LATER gets the message again, with reconsumeTimes one
 * higher, under its own topic and id. The broker picks the delay (level 3 + reconsumeTimes: 10 s).
 */
class RetryTest extends CompatTest {
    @Test
    void reconsumeLaterRedeliversWithReconsumeTimesPlusOne() throws Exception {
        String topic = unique("Retry");
        DefaultMQProducer producer = startProducer(unique("pg"));
        createTopic(producer, topic, 4);

        Map<String, Message> sent = new HashMap<>();
        Map<String, String> msgIds = new HashMap<>();
        for (int i = 0; i < 3; i++) {
            Message m = message(topic, "TagR", "retry-" + i);
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
            sent.put(m.getUserProperty(ID), m);
            msgIds.put(m.getUserProperty(ID), r.getMsgId());
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return msgs.get(0).getReconsumeTimes() == 0
                    ? ConsumeConcurrentlyStatus.RECONSUME_LATER
                    : ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        await("every message delivered twice", Duration.ofSeconds(60), () -> {
            var byId = received.byId();
            return byId.keySet().containsAll(sent.keySet()) && byId.values().stream().allMatch(d -> d.size() >= 2);
        });

        var byId = received.byId();
        assertEquals(sent.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            List<Received.Delivery> deliveries = e.getValue();
            assertEquals(2, deliveries.size(), "deliveries of " + e.getKey());
            for (int attempt = 0; attempt < 2; attempt++) {
                var got = deliveries.get(attempt).msg();
                assertEquals(attempt, got.getReconsumeTimes(), "reconsumeTimes of delivery " + attempt + " of " + e.getKey());
                assertIntact(sent.get(e.getKey()), got);
                assertEquals(msgIds.get(e.getKey()), got.getMsgId(), "message id of delivery " + attempt);
            }
        }
    }
}
