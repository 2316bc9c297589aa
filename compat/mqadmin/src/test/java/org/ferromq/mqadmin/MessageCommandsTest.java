package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** sendMessage, queryMsgById, queryMsgByKey, queryMsgByOffset, consumeMessage, queryMsgTraceById. */
class MessageCommandsTest extends MqadminTest {
    /** One row of sendMessage's output. */
    record Sent(String brokerName, int queueId, String status, String msgId) {}

    static Sent sendMessage(String... args) {
        String out = mqadmin("sendMessage", args).ok();
        Matcher m = Pattern.compile("^(\\S+)\\s+(\\d+)\\s+(\\S+)\\s+([0-9A-F]{32,})\\s*$", Pattern.MULTILINE).matcher(out);
        assertTrue(m.find(), "sendMessage prints broker, queue, send status and message id:\n" + out);
        return new Sent(m.group(1), Integer.parseInt(m.group(2)), m.group(3), m.group(4));
    }

    /** The {@code Name: value} lines printed for one message by queryMsgById / queryMsgByOffset. */
    static String field(String output, String name) {
        Matcher m = Pattern.compile("^" + Pattern.quote(name + ":") + "\\s+(.*?)\\s*$", Pattern.MULTILINE).matcher(output);
        assertTrue(m.find(), "the output shows " + name + ":\n" + output);
        return m.group(1);
    }

    @Test
    void aMessageSentWithSendMessageIsFoundByIdKeyAndOffsetWithItsBody() {
        Broker broker = broker();
        String topic = unique("AdminMsg");
        createTopic(broker, topic, 2);
        String key = unique("key");
        String body = "hello from mqadmin " + key;

        Sent sent = sendMessage("-t", topic, "-p", body, "-k", key, "-c", "TagA");
        assertEquals(broker.name(), sent.brokerName());
        assertEquals("SEND_OK", sent.status());

        String byId = mqadmin("queryMsgById", "-t", topic, "-i", sent.msgId(), "-f", "UTF-8").ok();
        assertEquals(topic, field(byId, "Topic"));
        assertEquals("[TagA]", field(byId, "Tags"));
        assertEquals("[" + key + "]", field(byId, "Keys"));
        assertEquals(Integer.toString(sent.queueId()), field(byId, "Queue ID"));
        assertEquals(body, field(byId, "Message Body"));
        long offset = Long.parseLong(field(byId, "Queue Offset"));

        // the key index is written asynchronously by the broker's dispatcher
        AtomicReference<String> byKey = new AtomicReference<>();
        eventually("queryMsgByKey finds " + key, Duration.ofSeconds(10), () -> {
            byKey.set(mqadmin("queryMsgByKey", "-t", topic, "-k", key).ok());
            return byKey.get().contains(sent.msgId());
        });
        Matcher row = Pattern.compile("^" + sent.msgId() + "\\s+(\\d+)\\s+(\\d+)\\s*$", Pattern.MULTILINE).matcher(byKey.get());
        assertTrue(row.find(), byKey.get());
        assertEquals(sent.queueId(), Integer.parseInt(row.group(1)));
        assertEquals(offset, Long.parseLong(row.group(2)));
        assertEquals(1, byKey.get().lines().filter(l -> l.contains(sent.msgId())).count(), byKey.get());

        String byOffset = mqadmin("queryMsgByOffset", "-t", topic, "-b", broker.name(), "-i",
            Integer.toString(sent.queueId()), "-o", Long.toString(offset), "-f", "UTF-8").ok();
        assertEquals(body, field(byOffset, "Message Body"));
        assertEquals("[" + key + "]", field(byOffset, "Keys"));

        String consumed = mqadmin("consumeMessage", "-t", topic, "-b", broker.name(), "-i",
            Integer.toString(sent.queueId()), "-o", Long.toString(offset), "-c", "1").ok();
        assertTrue(consumed.contains("Consume ok"), consumed);
        assertTrue(consumed.contains("MSGID: " + sent.msgId()) && consumed.contains("BODY: " + body), consumed);
    }

    @Test
    void consumeMessagePrintsEveryMessageOfTheTopic() {
        Broker broker = broker();
        String topic = unique("AdminConsume");
        createTopic(broker, topic, 2);
        Map<String, String> bodies = new java.util.HashMap<>();
        for (int i = 0; i < 4; i++) {
            String body = "body-" + i + "-" + unique("b");
            bodies.put(sendMessage("-t", topic, "-p", body).msgId(), body);
        }
        String out = mqadmin("consumeMessage", "-t", topic).ok();
        Matcher m = Pattern.compile("MSGID: ([0-9A-F]{32,}) .*? BODY: (\\S+)").matcher(out);
        Map<String, String> printed = new java.util.HashMap<>();
        while (m.find()) {
            assertEquals(null, printed.put(m.group(1), m.group(2)), "printed once: " + m.group(1) + "\n" + out);
        }
        assertEquals(bodies, printed, out);
    }

    @Test
    void queryMsgTraceByIdShowsTheTraceOfAMessageSentWithTracing() {
        Broker broker = broker();
        String topic = unique("AdminTrace");
        createTopic(broker, topic, 1);
        Sent sent = sendMessage("-t", topic, "-p", "traced", "-m", "true");
        AtomicReference<String> trace = new AtomicReference<>();
        eventually("queryMsgTraceById shows the send of " + sent.msgId(), Duration.ofSeconds(20), () -> {
            trace.set(mqadmin("queryMsgTraceById", "-i", sent.msgId()).ok());
            return trace.get().lines().anyMatch(l -> l.startsWith("Pub "));
        });
        Matcher pub = Pattern.compile("^Pub\\s+(\\S+)\\s+(\\S+)\\s+.*\\s(\\S+)\\s*$", Pattern.MULTILINE).matcher(trace.get());
        assertTrue(pub.find(), trace.get());
        assertEquals("success", pub.group(3), "the send succeeded:\n" + trace.get());
    }
}
