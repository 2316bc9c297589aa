package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;
import org.apache.rocketmq.client.consumer.DefaultLitePullConsumer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.MessageQueueSelector;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/**
 * Scenario 6: DefaultLitePullConsumer in assign mode: seek, poll, commit; a new instance of the group
 * resumes at the committed offsets.
 */
class LitePullTest extends CompatTest {
    private static final int PER_QUEUE = 5;
    private static final long SEEK_TO = 2;

    @Test
    void assignSeekPollCommitAndResumeInANewInstance() throws Exception {
        String topic = unique("LitePull");
        String group = unique("cg");
        DefaultMQProducer producer = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(producer, topic, 4);
        Map<String, Message> sent = new HashMap<>();
        sendToEachQueue(producer, queues, sent, 0, PER_QUEUE);

        // On assign the client starts one pull task per queue at the group's stored offset. A seek
        // cancels that task, but a pull it already has in flight can still hand its messages over
        // after the seek (a race inside the client, seen as offsets 0.. next to the seeked 2..).
        // Assigned and paused before start, the first task never pulls; resume after the seeks.
        DefaultLitePullConsumer first = newLiteConsumer(group);
        first.assign(queues);
        first.pause(queues);
        first.start();
        onTearDown(first::shutdown);
        List<MessageQueue> assigned = new ArrayList<>(first.fetchMessageQueues(topic));
        assertEquals(new HashSet<>(queues), new HashSet<>(assigned), "queues the consumer sees");
        for (MessageQueue mq : assigned) {
            first.seek(mq, SEEK_TO);
        }
        first.resume(queues);
        List<MessageExt> polled = pollUntil(first, queues.size() * (int) (PER_QUEUE - SEEK_TO));
        assertPerQueueOffsets(polled, SEEK_TO, PER_QUEUE, sent);

        first.commitSync(); // the positions after everything polled; shutdown persists them on the broker
        for (MessageQueue mq : assigned) {
            assertEquals(PER_QUEUE, first.committed(mq), "committed offset of " + mq);
        }
        first.shutdown();

        sendToEachQueue(producer, queues, sent, PER_QUEUE, 2);
        DefaultLitePullConsumer second = liteConsumer(group);
        for (MessageQueue mq : queues) {
            assertEquals(PER_QUEUE, second.committed(mq), "committed offset of " + mq + " seen by a new instance");
        }
        second.assign(queues);
        List<MessageExt> resumed = pollUntil(second, queues.size() * 2);
        assertPerQueueOffsets(resumed, PER_QUEUE, PER_QUEUE + 2, sent);
    }

    private DefaultLitePullConsumer liteConsumer(String group) throws Exception {
        DefaultLitePullConsumer consumer = newLiteConsumer(group);
        consumer.start();
        onTearDown(consumer::shutdown);
        return consumer;
    }

    private static DefaultLitePullConsumer newLiteConsumer(String group) {
        DefaultLitePullConsumer consumer = new DefaultLitePullConsumer(group);
        configure(consumer);
        consumer.setAutoCommit(false);
        consumer.setPollTimeoutMillis(1000);
        return consumer;
    }

    /** Sends `count` messages to every queue, with ids q<queue>-<offset>. */
    private static void sendToEachQueue(DefaultMQProducer producer, List<MessageQueue> queues, Map<String, Message> sent,
            int from, int count) throws Exception {
        MessageQueueSelector toQueue = (mqs, msg, arg) -> (MessageQueue) arg;
        for (int i = from; i < from + count; i++) {
            for (MessageQueue mq : queues) {
                Message m = message(mq.getTopic(), "TagL", "q" + mq.getQueueId() + "-" + i);
                assertEquals(SendStatus.SEND_OK, producer.send(m, toQueue, mq).getSendStatus());
                sent.put(m.getUserProperty(ID), m);
            }
        }
    }

    private static List<MessageExt> pollUntil(DefaultLitePullConsumer consumer, int count) {
        List<MessageExt> got = new ArrayList<>();
        await(count + " messages polled", Duration.ofSeconds(30), () -> {
            got.addAll(consumer.poll(200));
            return got.size() >= count;
        });
        assertEquals(List.of(), consumer.poll(500), "nothing more to poll");
        return got;
    }

    /** Each queue delivered exactly offsets [from, to), in order, each message as it was sent. */
    private static void assertPerQueueOffsets(List<MessageExt> polled, long from, long to, Map<String, Message> sent) {
        Map<Integer, List<Long>> offsets = new HashMap<>();
        for (MessageExt m : polled) {
            offsets.computeIfAbsent(m.getQueueId(), k -> new ArrayList<>()).add(m.getQueueOffset());
            assertEquals("q" + m.getQueueId() + "-" + m.getQueueOffset(), m.getUserProperty(ID), "message at its offset");
            assertIntact(sent.get(m.getUserProperty(ID)), m);
        }
        List<Long> expected = LongStream.range(from, to).boxed().toList();
        assertEquals(4, offsets.size(), "queues polled: " + offsets.keySet());
        for (var e : offsets.entrySet()) {
            assertEquals(expected, e.getValue(), "offsets polled from queue " + e.getKey());
        }
    }
}
