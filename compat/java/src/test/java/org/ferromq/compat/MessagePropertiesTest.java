package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.TreeMap;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * Every property the client sent (system and user) comes back with the value it was sent with. The
 * broker may add properties (Java adds CLUSTER), never change the client's. Read back by viewMessage, so
 * no consumer is involved. See FINDINGS J1 for why it is pending.
 */
class MessagePropertiesTest extends CompatTest {
    @Test
    void taggedMessageKeepsEveryPropertyAsSent() throws Exception {
        checkRoundTrip("TagP");
    }

    @Test
    void untaggedMessageKeepsEveryPropertyAsSent() throws Exception {
        checkRoundTrip(null);
    }

    private void checkRoundTrip(String tag) throws Exception {
        String topic = unique("Props");
        DefaultMQProducer producer = startProducer(unique("pg"));
        createTopic(producer, topic, 1);
        Message m = message(topic, tag, "props-1");
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus());

        MessageExt got = producer.viewMessage(topic, r.getOffsetMsgId());
        Map<String, String> back = new TreeMap<>();
        for (String name : m.getProperties().keySet()) {
            back.put(name, got.getProperty(name));
        }
        assertEquals(new TreeMap<>(m.getProperties()), back, "the properties the client sent, as stored");
        assertEquals(tag, got.getTags(), "tag");
    }
}
