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
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** Scenario 9: two consumers of one group in BROADCASTING mode both get every message. */
class BroadcastTest extends CompatTest {
    @Test
    void everyBroadcastingConsumerGetsEveryMessage() throws Exception {
        String topic = unique("Broadcast");
        String group = unique("cg");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);

        Received[] received = {new Received(), new Received()};
        DefaultMQPushConsumer[] consumers = new DefaultMQPushConsumer[2];
        for (int c = 0; c < 2; c++) {
            Received into = received[c];
            consumers[c] = pushConsumer(group);
            setBroadcasting(consumers[c]);
            consumers[c].subscribe(topic, "*");
            consumers[c].registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
                into.add(msgs);
                return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
            });
            consumers[c].start();
        }

        Map<String, Message> sent = new HashMap<>();
        for (int i = 0; i < 20; i++) {
            Message m = message(topic, "TagBc", "bc-" + i);
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            sent.put(m.getUserProperty(ID), m);
        }

        for (int c = 0; c < 2; c++) {
            Received into = received[c];
            await("consumer " + c + " gets all " + sent.size() + " messages", Duration.ofSeconds(60),
                    () -> into.containsAll(sent.keySet()));
            awaitConsumedToEnd(consumers[c], producer, queues);
            var byId = into.byId();
            assertEquals(sent.keySet(), byId.keySet(), "ids delivered to consumer " + c);
            for (var e : byId.entrySet()) {
                assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey() + " to consumer " + c);
                assertIntact(sent.get(e.getKey()), e.getValue().get(0).msg());
            }
        }
    }
}
