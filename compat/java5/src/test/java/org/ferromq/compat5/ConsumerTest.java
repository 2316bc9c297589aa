package org.ferromq.compat5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.apache.rocketmq.client.apis.consumer.ConsumeResult;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.PushConsumer;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.message.Message;
import org.junit.jupiter.api.Test;

/**
 * v5 consumers: they receive through POP (ReceiveMessage / AckMessage / ChangeInvisibleDuration).
 */
class ConsumerTest extends Compat5Test {

    private static Set<String> send(String prefix, int n) throws Exception {
        Set<String> bodies = new HashSet<>();
        try (Producer p = PROVIDER.newProducerBuilder()
            .setClientConfiguration(tlsConfiguration())
            .setTopics(NORMAL_TOPIC)
            .build()) {
            for (int i = 0; i < n; i++) {
                String body = prefix + i;
                p.send(PROVIDER.newMessageBuilder().setTopic(NORMAL_TOPIC).setBody(utf8(body)).build());
                bodies.add(body);
            }
        }
        return bodies;
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody()).toString();
    }

    @Test
    void simpleConsumerReceivesAndAcksEveryMessage() throws Exception {
        String run = "simple-" + UUID.randomUUID() + "-";
        Set<String> sent = send(run, 5);
        Set<String> got = new HashSet<>();
        try (SimpleConsumer c = PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(tlsConfiguration())
            .setConsumerGroup("compat5-simple-" + UUID.randomUUID())
            .setSubscriptionExpressions(Collections.singletonMap(NORMAL_TOPIC, FilterExpression.SUB_ALL))
            .setAwaitDuration(Duration.ofSeconds(5))
            .build()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!got.containsAll(sent) && System.nanoTime() < deadline) {
                List<MessageView> batch = c.receive(16, Duration.ofSeconds(30));
                for (MessageView m : batch) {
                    if (body(m).startsWith(run)) {
                        got.add(body(m));
                    }
                    c.ack(m);
                }
            }
        }
        assertEquals(sent, got);
    }

    /** Sent through the v4 remoting protocol, received through v5: tag, keys and body intact. */
    @Test
    void messagesOfARemotingProducerReachASimpleConsumer() throws Exception {
        String run = "v4-" + UUID.randomUUID() + "-";
        Set<String> sent = new HashSet<>();
        DefaultMQProducer producer = new DefaultMQProducer("compat5-v4-producer-" + UUID.randomUUID());
        producer.setNamesrvAddr(NAMESRV);
        producer.start();
        try {
            for (int i = 0; i < 5; i++) {
                String body = run + i;
                Message m = new Message(NORMAL_TOPIC, "v4tag", "key-" + i, utf8(body));
                assertEquals(SendStatus.SEND_OK, producer.send(m).getSendStatus());
                sent.add(body);
            }
        } finally {
            producer.shutdown();
        }
        Set<String> got = new HashSet<>();
        try (SimpleConsumer c = PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(plaintextConfiguration())
            .setConsumerGroup("compat5-v4-to-v5-" + UUID.randomUUID())
            .setSubscriptionExpressions(Collections.singletonMap(NORMAL_TOPIC, new FilterExpression("v4tag")))
            .setAwaitDuration(Duration.ofSeconds(5))
            .build()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!got.containsAll(sent) && System.nanoTime() < deadline) {
                for (MessageView m : c.receive(16, Duration.ofSeconds(30))) {
                    String body = body(m);
                    if (body.startsWith(run)) {
                        assertEquals("v4tag", m.getTag().orElse(null));
                        assertEquals(Collections.singletonList("key-" + body.substring(run.length())),
                            new java.util.ArrayList<>(m.getKeys()));
                        assertTrue(got.add(body), "delivered twice: " + body);
                    }
                    c.ack(m);
                }
            }
        }
        assertEquals(sent, got);
    }

    @Test
    void pushConsumerReceivesEveryMessage() throws Exception {
        String run = "push-" + UUID.randomUUID() + "-";
        Set<String> got = ConcurrentHashMap.newKeySet();
        try (PushConsumer c = PROVIDER.newPushConsumerBuilder()
            .setClientConfiguration(tlsConfiguration())
            .setConsumerGroup("compat5-push-" + UUID.randomUUID())
            .setSubscriptionExpressions(Collections.singletonMap(NORMAL_TOPIC, FilterExpression.SUB_ALL))
            .setMessageListener(m -> {
                if (body(m).startsWith(run)) {
                    got.add(body(m));
                }
                return ConsumeResult.SUCCESS;
            })
            .build()) {
            Set<String> sent = send(run, 5);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!got.containsAll(sent) && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertTrue(got.containsAll(sent), "received " + got.size() + " of " + sent.size());
        }
    }
}
