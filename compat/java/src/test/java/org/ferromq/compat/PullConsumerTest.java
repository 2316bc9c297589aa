package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** The classic DefaultMQPullConsumer: pull by offset and tag, offsets and statuses as the broker reports them. */
@SuppressWarnings("deprecation")
class PullConsumerTest extends CompatTest {
    @Test
    void pullByOffsetAndTag() throws Exception {
        String topic = unique("Pull");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 2);
        MessageQueueSelector toQueue = (mqs, msg, arg) -> (MessageQueue) arg;
        Map<String, Message> sent = new HashMap<>();
        for (int i = 0; i < 6; i++) {
            for (MessageQueue mq : queues) {
                Message m = message(topic, i % 2 == 0 ? "TagP" : "TagQ", "q" + mq.getQueueId() + "-" + i);
                assertEquals(SendStatus.SEND_OK, producer.send(m, toQueue, mq).getSendStatus());
                sent.put(m.getUserProperty(ID), m);
            }
        }

        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer(unique("cg"));
        configure(consumer);
        consumer.start();
        onTearDown(consumer::shutdown);

        for (MessageQueue mq : consumer.fetchSubscribeMessageQueues(topic)) {
            assertEquals(0, consumer.minOffset(mq), "min offset of " + mq);
            assertEquals(6, consumer.maxOffset(mq), "max offset of " + mq);

            PullResult all = consumer.pull(mq, "*", 2, 3);
            assertEquals(PullStatus.FOUND, all.getPullStatus());
            assertEquals(List.of(2L, 3L, 4L), all.getMsgFoundList().stream().map(MessageExt::getQueueOffset).toList(),
                    "offsets pulled from 2, at most 3, in " + mq);
            assertEquals(5, all.getNextBeginOffset());
            for (MessageExt m : all.getMsgFoundList()) {
                assertIntact(sent.get(m.getUserProperty(ID)), m);
            }

            PullResult tagged = consumer.pull(mq, "TagP", 0, 32);
            assertEquals(PullStatus.FOUND, tagged.getPullStatus(), "pull of TagP in " + mq);
            assertEquals(List.of(0L, 2L, 4L), tagged.getMsgFoundList().stream().map(MessageExt::getQueueOffset).toList(),
                    "offsets of TagP in " + mq);

            PullResult atEnd = consumer.pull(mq, "*", 6, 32);
            assertEquals(PullStatus.NO_NEW_MSG, atEnd.getPullStatus(), "pull at the end of " + mq);
            assertEquals(6, atEnd.getNextBeginOffset());

            PullResult noneMatch = consumer.pull(mq, "TagNobodySent", 0, 32);
            assertEquals(List.of(), noneMatch.getMsgFoundList() == null ? List.of() : noneMatch.getMsgFoundList(),
                    "messages of a tag nobody sent");
            assertTrue(noneMatch.getNextBeginOffset() >= 0 && noneMatch.getNextBeginOffset() <= 6,
                    "next offset after a pull that matched nothing: " + noneMatch.getNextBeginOffset());
        }
    }
}
