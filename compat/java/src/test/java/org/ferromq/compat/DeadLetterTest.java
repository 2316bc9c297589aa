package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.MixAll;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * Retry with the listener's own delay (delayLevelWhenNextConsume = 1, 1 s), then the dead-letter queue:
 * with maxReconsumeTimes 1, a message that always fails is delivered twice (reconsumeTimes 0 and 1) and
 * then lands in %DLQ%group, where it can be found by key (DLQ topics are write-only for consumers).
 */
class DeadLetterTest extends CompatTest {
    @Test
    void aMessageThatKeepsFailingEndsInTheDeadLetterQueue() throws Exception {
        String topic = unique("Dlq");
        String group = unique("cg");
        DefaultMQProducer producer = startProducer(unique("pg"));
        createTopic(producer, topic, 4);

        Message m = message(topic, "TagX", "dead-1");
        long begin = System.currentTimeMillis() - 1_000;
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus());

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(group);
        consumer.setMaxReconsumeTimes(1);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            ctx.setDelayLevelWhenNextConsume(1);
            return ConsumeConcurrentlyStatus.RECONSUME_LATER;
        });
        consumer.start();

        String dlq = MixAll.getDLQTopic(group);
        AtomicReference<List<MessageExt>> found = new AtomicReference<>(List.of());
        await("the message is found by key in " + dlq, Duration.ofSeconds(60), () -> {
            try {
                QueryResult q = producer.queryMessage(dlq, m.getKeys(), 32, begin, System.currentTimeMillis() + 1_000);
                found.set(q.getMessageList());
                return !found.get().isEmpty();
            } catch (Exception notThereYet) {
                return false;
            }
        });

        List<Received.Delivery> deliveries = received.byId().get("dead-1");
        assertEquals(2, deliveries.size(), "deliveries before the dead-letter queue");
        for (int attempt = 0; attempt < 2; attempt++) {
            MessageExt got = deliveries.get(attempt).msg();
            assertEquals(attempt, got.getReconsumeTimes(), "reconsumeTimes of delivery " + attempt);
            assertIntact(m, got);
            assertEquals(r.getMsgId(), got.getMsgId(), "message id of delivery " + attempt);
        }
        // The retry is parked for the listener's level 1 (1 s): never delivered earlier. How much
        // later depends on when the consumer's rebalance picks up its fresh retry topic (up to the
        // client's 20 s rebalance interval), so no upper bound is asserted.
        long retryGap = deliveries.get(1).atMillis() - deliveries.get(0).atMillis();
        assertEquals(true, retryGap >= 900, "the retry came after its 1 s delay; waited " + retryGap + " ms");

        assertEquals(1, found.get().size(), "copies in " + dlq);
        MessageExt dead = found.get().get(0);
        assertEquals(dlq, dead.getTopic(), "topic of the dead letter");
        assertEquals(topic, dead.getProperty("RETRY_TOPIC"), "original topic kept in RETRY_TOPIC");
        assertEquals(r.getMsgId(), dead.getProperty("UNIQ_KEY"), "client message id");
        assertEquals(m.getKeys(), dead.getKeys());
        assertEquals(m.getTags(), dead.getTags());
        assertEquals(m.getUserProperty(ID), dead.getUserProperty(ID));
        assertEquals(m.getUserProperty(NOTE), dead.getUserProperty(NOTE));
    }
}
