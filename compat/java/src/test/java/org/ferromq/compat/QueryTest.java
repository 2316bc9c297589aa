package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageClientExt;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/** Scenario 8: queryMessage by key, and viewMessage by offset message id and by client message id. */
class QueryTest extends CompatTest {
    @Test
    void queryByKeyFindsExactlyTheMessagesWithThatKey() throws Exception {
        String topic = unique("Query");
        DefaultMQProducer producer = startProducer(unique("pg"));
        createTopic(producer, topic, 4);

        String key = unique("order");
        Set<String> withKey = new TreeSet<>();
        Map<String, Message> sent = new HashMap<>();
        long begin = System.currentTimeMillis() - 1_000;
        for (int i = 0; i < 9; i++) {
            Message m = message(topic, "TagQ", "q-" + i);
            // three carry the key alone, two carry it among others, the rest a key it is a prefix of
            m.setKeys(i < 3 ? key : i < 5 ? "other-" + i + " " + key : key + "-suffix");
            assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
            sent.put(m.getUserProperty(ID), m);
            if (i < 5) {
                withKey.add(m.getUserProperty(ID));
            }
        }

        AtomicReference<QueryResult> result = new AtomicReference<>();
        await("the index finds " + withKey.size() + " messages by key", Duration.ofSeconds(30), () -> {
            try {
                result.set(producer.queryMessage(topic, key, 64, begin, System.currentTimeMillis() + 1_000));
                return result.get().getMessageList().size() >= withKey.size();
            } catch (MQClientException notIndexedYet) {
                return false;
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        });
        Set<String> found = new TreeSet<>();
        for (MessageExt m : result.get().getMessageList()) {
            found.add(m.getUserProperty(ID));
            assertIntact(sent.get(m.getUserProperty(ID)), m);
        }
        assertEquals(withKey, found, "messages found by key " + key);
        assertEquals(withKey.size(), result.get().getMessageList().size(), "each message once");
    }

    @Test
    void viewMessageByOffsetIdAndByClientId() throws Exception {
        String topic = unique("View");
        DefaultMQProducer producer = startProducer(unique("pg"));
        createTopic(producer, topic, 4);

        Message m = message(topic, "TagV", "view-1");
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus());

        MessageExt byOffsetId = producer.viewMessage(topic, r.getOffsetMsgId());
        assertIntact(m, byOffsetId);
        assertEquals(r.getMessageQueue().getQueueId(), byOffsetId.getQueueId(), "queue id");
        assertEquals(r.getQueueOffset(), byOffsetId.getQueueOffset(), "queue offset");
        assertEquals(r.getOffsetMsgId(), ((MessageClientExt) byOffsetId).getOffsetMsgId(), "offset message id");
        assertEquals(r.getMsgId(), byOffsetId.getMsgId(), "client message id");

        // the client message id is looked up through the broker's index, which is built asynchronously
        AtomicReference<MessageExt> byClientId = new AtomicReference<>();
        await("viewMessage finds the client message id", Duration.ofSeconds(30), () -> {
            try {
                byClientId.set(producer.viewMessage(topic, r.getMsgId()));
                return byClientId.get() != null;
            } catch (Exception notIndexedYet) {
                return false;
            }
        });
        assertIntact(m, byClientId.get());
        assertEquals(r.getQueueOffset(), byClientId.get().getQueueOffset(), "queue offset");
    }
}
