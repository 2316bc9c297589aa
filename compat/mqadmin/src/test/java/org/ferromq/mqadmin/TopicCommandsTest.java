package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/** updateTopic, topicList, topicRoute, topicStatus, deleteTopic. */
class TopicCommandsTest extends MqadminTest {
    private static List<String> lines(String output) {
        return Arrays.stream(output.split("\\R")).map(String::strip).toList();
    }

    @Test
    void createListRouteStatusAndDeleteATopic() throws Exception {
        Broker broker = broker();
        String topic = unique("AdminTopic");

        String created = mqadmin("updateTopic", "-c", broker.cluster(), "-t", topic, "-r", "3", "-w", "3").ok();
        assertTrue(created.contains("create topic to " + broker.addr() + " success."), created);

        // the broker registers the new topic with the name server right after answering
        eventually("topicList lists " + topic, Duration.ofSeconds(10), () -> lines(mqadmin("topicList").ok()).contains(topic));
        String withClusters = mqadmin("topicList", "-c").ok();
        assertTrue(withClusters.lines().anyMatch(l -> l.startsWith(broker.cluster()) && l.contains(topic)),
            "topicList -c shows " + topic + " in cluster " + broker.cluster() + ":\n" + withClusters);

        String route = mqadmin("topicRoute", "-t", topic, "-l").ok();
        Pattern row = Pattern.compile("^\\s*" + Pattern.quote(broker.cluster()) + "\\s+" + Pattern.quote(broker.name())
            + "\\s+\\{0=" + Pattern.quote(broker.addr()) + "}\\s+3\\s+3\\s+6\\s*$", Pattern.MULTILINE);
        assertTrue(row.matcher(route).find(), "topicRoute -l shows the broker with 3 read, 3 write queues, perm 6:\n" + route);
        String json = mqadmin("topicRoute", "-t", topic).ok();
        assertTrue(json.contains("\"brokerName\":\"" + broker.name() + "\"") && json.contains("\"readQueueNums\":3")
            && json.contains("\"writeQueueNums\":3"), "topicRoute prints the route as JSON:\n" + json);

        // 2 messages to queue 0, 1 to queue 2, none to queue 1
        DefaultMQProducer producer = startProducer(unique("admin_topic_producer"));
        int[] sends = {0, 0, 2};
        for (int q : sends) {
            var result = producer.send(new Message(topic, ("m" + q).getBytes(StandardCharsets.UTF_8)),
                new MessageQueue(topic, broker.name(), q));
            assertEquals(SendStatus.SEND_OK, result.getSendStatus());
        }
        String status = mqadmin("topicStatus", "-t", topic).ok();
        long[] maxOffsets = new long[3];
        Matcher m = Pattern.compile("^" + Pattern.quote(broker.name()) + "\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)", Pattern.MULTILINE)
            .matcher(status);
        int rows = 0;
        while (m.find()) {
            rows++;
            assertEquals(0, Long.parseLong(m.group(2)), "min offset of queue " + m.group(1));
            maxOffsets[Integer.parseInt(m.group(1))] = Long.parseLong(m.group(3));
        }
        assertEquals(3, rows, "topicStatus shows the 3 queues:\n" + status);
        assertEquals(List.of(2L, 0L, 1L), Arrays.stream(maxOffsets).boxed().toList(), "max offsets:\n" + status);

        String deleted = mqadmin("deleteTopic", "-c", broker.cluster(), "-t", topic).ok();
        assertTrue(deleted.contains("delete topic [" + topic + "] from cluster [" + broker.cluster() + "] success."), deleted);
        eventually("topicList no longer lists " + topic, Duration.ofSeconds(10),
            () -> !lines(mqadmin("topicList").ok()).contains(topic));
        Throwable gone = mqadmin("topicRoute", "-t", topic).failed();
        assertTrue(Mqadmin.describe(gone).contains("No topic route info"), Mqadmin.describe(gone));
        assertFalse(lines(mqadmin("topicList").ok()).contains(topic));
    }
}
