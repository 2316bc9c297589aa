package org.ferromq.compat.pop;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.TopicConfig;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageRequestMode;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.remoting.protocol.subscription.SubscriptionGroupConfig;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A DefaultMQPushConsumer of the 5.x remoting client in POP mode: the group is switched to POP with
 * the admin API (SET_MESSAGE_REQUEST_MODE), the consumer lets the broker assign its queues
 * (QUERY_ASSIGNMENT), pops them and acks by receipt handle. Every message arrives once and is acked
 * (the group's lag reaches 0), and a message whose listener throws comes back with reconsumeTimes 1.
 */
class PopPushConsumerTest {
    private static final int MESSAGES = 20;
    private static final String POISON = "m-7";

    private final List<Runnable> shutdowns = new ArrayList<>();

    @AfterEach
    void shutDown() {
        for (int i = shutdowns.size() - 1; i >= 0; i--) {
            shutdowns.get(i).run();
        }
    }

    static String namesrv() {
        String addr = System.getProperty("namesrv");
        if (addr == null || addr.isBlank()) {
            throw new IllegalStateException("pass the name server address: -Dnamesrv=HOST:PORT");
        }
        return addr;
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().substring(0, 8);
    }

    static void eventually(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + timeout + ": " + what);
            }
            Thread.sleep(100);
        }
    }

    @Test
    void popModeConsumesEveryMessageOnceAndRedeliversAFailureWithTheNextReconsumeTimes() throws Exception {
        String topic = unique("PopTopic");
        String group = unique("pop_group");

        DefaultMQAdminExt admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(namesrv());
        admin.setInstanceName(unique("admin"));
        admin.start();
        shutdowns.add(admin::shutdown);
        ClusterInfo cluster = admin.examineBrokerClusterInfo();
        BrokerData broker = cluster.getBrokerAddrTable().values().iterator().next();
        String brokerAddr = broker.selectBrokerAddr();

        admin.createAndUpdateTopicConfig(brokerAddr, new TopicConfig(topic, 4, 4, 6));
        eventually("the name server routes " + topic, Duration.ofSeconds(20), () -> {
            try {
                return admin.examineTopicRouteInfo(topic).getQueueDatas().stream()
                    .anyMatch(q -> q.getReadQueueNums() == 4);
            } catch (Exception notYet) {
                return false;
            }
        });
        SubscriptionGroupConfig groupConfig = new SubscriptionGroupConfig();
        groupConfig.setGroupName(group);
        admin.createAndUpdateSubscriptionGroupConfig(brokerAddr, groupConfig);
        // mqadmin setConsumeMode -m POP -q 0: every consumer pops every queue.
        admin.setMessageRequestMode(brokerAddr, topic, group, MessageRequestMode.POP, 0, 5_000);

        DefaultMQProducer producer = new DefaultMQProducer(unique("pop_producer"));
        producer.setNamesrvAddr(namesrv());
        producer.setInstanceName(unique("producer"));
        producer.start();
        shutdowns.add(producer::shutdown);
        for (int i = 0; i < MESSAGES; i++) {
            Message m = new Message(topic, "TagA", "k" + i, ("m-" + i).getBytes(StandardCharsets.UTF_8));
            SendResult r = producer.send(m);
            assertEquals(SendStatus.SEND_OK, r.getSendStatus());
        }

        Map<String, List<Integer>> seen = new ConcurrentHashMap<>();
        List<String> withoutHandle = new CopyOnWriteArrayList<>();
        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(group);
        consumer.setNamesrvAddr(namesrv());
        consumer.setInstanceName(unique("consumer"));
        // Let the broker assign the queues: only then does the client ask for the mode and pop.
        consumer.setClientRebalance(false);
        consumer.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, context) -> {
            for (MessageExt msg : msgs) {
                String body = new String(msg.getBody(), StandardCharsets.UTF_8);
                seen.computeIfAbsent(body, b -> new CopyOnWriteArrayList<>()).add(msg.getReconsumeTimes());
                if (msg.getProperty("POP_CK") == null) {
                    withoutHandle.add(body);
                }
                if (body.equals(POISON) && msg.getReconsumeTimes() == 0) {
                    throw new IllegalStateException("the first delivery of " + POISON + " fails");
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();
        shutdowns.add(consumer::shutdown);

        eventually("every message consumed and the failed one again", Duration.ofSeconds(90),
            () -> seen.size() == MESSAGES && seen.getOrDefault(POISON, List.of()).size() >= 2);
        eventually("the group's lag reaches 0", Duration.ofSeconds(30), () -> {
            try {
                return admin.examineConsumeStats(group, topic).computeTotalDiff() == 0;
            } catch (Exception notYet) {
                return false;
            }
        });

        assertEquals(List.of(), withoutHandle, "every message came by POP, with its receipt handle");
        Map<String, List<Integer>> expected = new TreeMap<>();
        for (int i = 0; i < MESSAGES; i++) {
            String body = "m-" + i;
            expected.put(body, body.equals(POISON) ? List.of(0, 1) : List.of(0));
        }
        assertEquals(expected, new TreeMap<>(seen), "each once; the failed one again with reconsumeTimes 1");
    }
}
