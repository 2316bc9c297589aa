package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * producerConnection, consumerConnection, consumerProgress, getConsumerStatus, resetOffsetByTime and
 * statsAll, against a producer and a push consumer of the 5.x remoting client.
 */
class ConsumerCommandsTest extends MqadminTest {
    private static final int MESSAGES = 10;

    /** The rows of consumerProgress -g: queue id → {broker offset, consumer offset, diff}. */
    private static Map<Integer, long[]> progressRows(String output, String topic) {
        Map<Integer, long[]> rows = new HashMap<>();
        Matcher m = Pattern.compile("^" + Pattern.quote(topic) + "\\s+\\S+\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(-?\\d+)",
            Pattern.MULTILINE).matcher(output);
        while (m.find()) {
            rows.put(Integer.parseInt(m.group(1)), new long[] {Long.parseLong(m.group(2)), Long.parseLong(m.group(3)),
                Long.parseLong(m.group(4))});
        }
        return rows;
    }

    @Test
    void connectionsProgressStatusResetAndStatsOfAConsumingGroup() throws Exception {
        Broker broker = broker();
        String topic = unique("AdminGroupTopic");
        String producerGroup = unique("admin_pg");
        String group = unique("admin_cg");
        createTopic(broker, topic, 2);
        long beforeSends = System.currentTimeMillis() - 1;

        DefaultMQProducer producer = startProducer(producerGroup);
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < MESSAGES; i++) {
            String body = "progress-" + i;
            bodies.add(body);
            assertEquals(SendStatus.SEND_OK,
                producer.send(new Message(topic, body.getBytes(StandardCharsets.UTF_8))).getSendStatus());
        }

        Map<String, Integer> received = new ConcurrentHashMap<>();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv());
        consumer.setInstanceName(unique("consumer"));
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.setPersistConsumerOffsetInterval(500);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
            for (MessageExt m : msgs) {
                received.merge(new String(m.getBody(), StandardCharsets.UTF_8), 1, Integer::sum);
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        onTearDown(consumer::shutdown);
        eventually("every message consumed once", Duration.ofSeconds(30), () -> received.size() == MESSAGES);
        assertEquals(bodies.stream().sorted().toList(), received.keySet().stream().sorted().toList());

        // producerConnection: the producer's client id, address, language and version
        String producers = mqadmin("producerConnection", "-g", producerGroup, "-t", topic).ok();
        String producerId = producer.getDefaultMQProducerImpl().getMqClientFactory().getClientId();
        assertTrue(Pattern.compile("^\\d{4}\\s+" + Pattern.quote(producerId) + "\\s+\\S+:\\d+\\s+JAVA\\s+V5_3_3", Pattern.MULTILINE)
            .matcher(producers).find(), "producerConnection shows " + producerId + ":\n" + producers);

        // consumerConnection: the consumer, its subscription and consume settings
        String consumerId = consumer.getDefaultMQPushConsumerImpl().getmQClientFactory().getClientId();
        String connection = mqadmin("consumerConnection", "-g", group).ok();
        assertTrue(Pattern.compile("^" + Pattern.quote(consumerId) + "\\s+\\S+:\\d+\\s+JAVA\\s+V5_3_3", Pattern.MULTILINE)
            .matcher(connection).find(), "consumerConnection shows " + consumerId + ":\n" + connection);
        assertTrue(Pattern.compile("^" + Pattern.quote(topic) + "\\s+\\*\\s*$", Pattern.MULTILINE).matcher(connection).find(),
            connection);
        assertTrue(connection.contains("ConsumeType: CONSUME_PASSIVELY"), connection);
        assertTrue(connection.contains("MessageModel: CLUSTERING"), connection);
        assertTrue(connection.contains("ConsumeFromWhere: CONSUME_FROM_FIRST_OFFSET"), connection);

        // consumerStatus -i: the consumer's own running info, relayed by the broker
        String running = mqadmin("consumerStatus", "-g", group, "-i", consumerId).ok();
        assertTrue(running.contains("#Consumer Subscription#"), running);
        assertTrue(Pattern.compile("^\\d{3} Topic: " + Pattern.quote(topic) + "\\s+ClassFilter: false\\s+SubExpression: \\*\\s*$",
            Pattern.MULTILINE)
            .matcher(running).find(), "consumerStatus shows the subscription to " + topic + ":\n" + running);
        assertTrue(running.contains("#Consumer MQ Detail#"), running);

        // consumerProgress: both queues fully consumed, no lag
        AtomicReference<String> progress = new AtomicReference<>();
        eventually("consumerProgress shows the committed offsets", Duration.ofSeconds(30), () -> {
            progress.set(mqadmin("consumerProgress", "-g", group).ok());
            Map<Integer, long[]> rows = progressRows(progress.get(), topic);
            return rows.size() == 2 && rows.values().stream().allMatch(r -> r[0] == r[1]);
        });
        Map<Integer, long[]> rows = progressRows(progress.get(), topic);
        assertEquals(MESSAGES, rows.values().stream().mapToLong(r -> r[0]).sum(), progress.get());
        assertTrue(rows.values().stream().allMatch(r -> r[2] == 0), progress.get());
        assertTrue(progress.get().contains("Consume Diff Total: 0"), progress.get());
        String groups = mqadmin("consumerProgress").ok();
        assertTrue(Pattern.compile("^" + Pattern.quote(group) + "\\s+1\\s+V5_3_3\\s+PUSH\\s+CLUSTERING\\s+\\d+\\s+0\\s*$",
            Pattern.MULTILINE).matcher(groups).find(), "consumerProgress lists the group, 1 client, no lag:\n" + groups);

        // getConsumerStatus: the consumer's own offsets, as it reports them to the broker
        String status = mqadmin("getConsumerStatus", "-g", group, "-t", topic).ok();
        Matcher st = Pattern.compile("^" + Pattern.quote(consumerId) + "\\s+" + Pattern.quote(broker.name()) + "\\s+(\\d+)\\s+(\\d+)",
            Pattern.MULTILINE).matcher(status);
        Map<Integer, Long> reported = new HashMap<>();
        while (st.find()) {
            reported.put(Integer.parseInt(st.group(1)), Long.parseLong(st.group(2)));
        }
        assertEquals(Map.of(0, rows.get(0)[1], 1, rows.get(1)[1]), reported, status);

        // statsAll: the topic's messages in and the group's out over the last 24 hours, no accumulation
        String stats = mqadmin("statsAll", "-t", topic).ok();
        Matcher sa = Pattern.compile("^" + Pattern.quote(topic) + "\\s+" + Pattern.quote(group)
            + "\\s+(\\d+)\\s+([\\d.]+)\\s+([\\d.]+)\\s+(\\d+)\\s+(\\d+)\\s*$", Pattern.MULTILINE).matcher(stats);
        assertTrue(sa.find(), "statsAll shows the topic and its group:\n" + stats);
        assertEquals(0, Long.parseLong(sa.group(1)), "accumulation:\n" + stats);
        assertEquals(MESSAGES, Long.parseLong(sa.group(4)), "messages in:\n" + stats);
        assertEquals(MESSAGES, Long.parseLong(sa.group(5)), "messages out:\n" + stats);

        // resetOffsetByTime to before the first send: the live consumer gets every message again
        String reset = mqadmin("resetOffsetByTime", "-g", group, "-t", topic, "-s", Long.toString(beforeSends)).ok();
        Matcher rr = Pattern.compile("^\\s*" + Pattern.quote(broker.name()) + "\\s+(\\d+)\\s+(\\d+)\\s*$", Pattern.MULTILINE).matcher(reset);
        Map<Integer, Long> resetTo = new HashMap<>();
        while (rr.find()) {
            resetTo.put(Integer.parseInt(rr.group(1)), Long.parseLong(rr.group(2)));
        }
        assertEquals(Map.of(0, 0L, 1, 0L), resetTo, reset);
        eventually("every message consumed a second time after the reset", Duration.ofSeconds(30),
            () -> received.values().stream().allMatch(n -> n >= 2));
        assertEquals(bodies.stream().sorted().toList(), received.keySet().stream().sorted().toList());

        // with the consumer gone (it commits its offsets as it shuts down), new messages are lag
        consumer.shutdown();
        for (int i = 0; i < 3; i++) {
            producer.send(new Message(topic, ("late-" + i).getBytes(StandardCharsets.UTF_8)));
        }
        eventually("consumerProgress shows the 3 new messages as lag", Duration.ofSeconds(30), () -> {
            progress.set(mqadmin("consumerProgress", "-g", group).ok());
            return progress.get().contains("Consume Diff Total: 3");
        });
        Map<Integer, long[]> lagging = progressRows(progress.get(), topic);
        assertEquals(MESSAGES + 3, lagging.values().stream().mapToLong(r -> r[0]).sum(), progress.get());
        assertEquals(MESSAGES, lagging.values().stream().mapToLong(r -> r[1]).sum(), progress.get());
        assertEquals(3, lagging.values().stream().mapToLong(r -> r[2]).sum(), progress.get());
    }
}
