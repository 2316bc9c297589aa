package org.ferromq.compat5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.apis.producer.SendReceipt;
import org.apache.rocketmq.client.apis.producer.Transaction;
import org.apache.rocketmq.client.apis.producer.TransactionResolution;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/** The official v5 producer against ferromq's gRPC endpoint, checked against what was stored. */
class ProducerTest extends Compat5Test {

    private static Producer producer(ClientConfiguration config, String topic) throws Exception {
        return PROVIDER.newProducerBuilder()
            .setClientConfiguration(config)
            .setTopics(topic)
            .build();
    }

    @Test
    void normalMessagesOverTlsAreStoredWithTheirProperties() throws Exception {
        String run = "normal-" + UUID.randomUUID() + "-";
        List<String> ids = new ArrayList<>();
        try (Producer p = producer(tlsConfiguration(), NORMAL_TOPIC)) {
            for (int i = 0; i < 10; i++) {
                Message m = PROVIDER.newMessageBuilder()
                    .setTopic(NORMAL_TOPIC)
                    .setTag("tag-a")
                    .setKeys("key-" + i)
                    .addProperty("seq", Integer.toString(i))
                    .setBody(utf8(run + i))
                    .build();
                SendReceipt receipt = p.send(m);
                assertNotNull(receipt.getMessageId());
                ids.add(receipt.getMessageId().toString());
            }
        }
        List<MessageExt> stored = readBack(NORMAL_TOPIC, run, 10, Duration.ofSeconds(30));
        assertEquals(10, stored.size(), "every message stored once");
        Map<String, MessageExt> byBody = new HashMap<>();
        for (MessageExt m : stored) {
            byBody.put(text(m), m);
        }
        for (int i = 0; i < 10; i++) {
            MessageExt m = byBody.get(run + i);
            assertNotNull(m, "message " + i);
            assertEquals("tag-a", m.getTags());
            assertEquals("key-" + i, m.getKeys());
            assertEquals(Integer.toString(i), m.getUserProperty("seq"));
            assertEquals(ids.get(i), m.getMsgId(), "the v5 message id is the stored unique key");
        }
    }

    @Test
    void plaintextWorksToo() throws Exception {
        String run = "plain-" + UUID.randomUUID();
        try (Producer p = producer(plaintextConfiguration(), NORMAL_TOPIC)) {
            p.send(PROVIDER.newMessageBuilder().setTopic(NORMAL_TOPIC).setBody(utf8(run)).build());
        }
        List<MessageExt> stored = readBack(NORMAL_TOPIC, run, 1, Duration.ofSeconds(30));
        assertEquals(1, stored.size());
    }

    @Test
    void fifoMessagesOfAGroupShareAQueueInSendOrder() throws Exception {
        String run = "fifo-" + UUID.randomUUID() + "-";
        String[] groups = {"g1", "g2", "g3"};
        try (Producer p = producer(tlsConfiguration(), FIFO_TOPIC)) {
            for (int i = 0; i < 5; i++) {
                for (String g : groups) {
                    p.send(PROVIDER.newMessageBuilder()
                        .setTopic(FIFO_TOPIC)
                        .setMessageGroup(g)
                        .setBody(utf8(run + g + "-" + i))
                        .build());
                }
            }
        }
        List<MessageExt> stored = readBack(FIFO_TOPIC, run, 15, Duration.ofSeconds(30));
        assertEquals(15, stored.size());
        for (String g : groups) {
            List<MessageExt> ofGroup = new ArrayList<>();
            for (MessageExt m : stored) {
                if (g.equals(m.getProperty("__SHARDINGKEY"))) {
                    ofGroup.add(m);
                }
            }
            assertEquals(5, ofGroup.size(), "group " + g);
            int queue = ofGroup.get(0).getQueueId();
            for (int i = 0; i < 5; i++) {
                assertEquals(queue, ofGroup.get(i).getQueueId(), "group " + g + " in one queue");
                assertEquals(run + g + "-" + i, text(ofGroup.get(i)), "group " + g + " in order");
            }
        }
    }

    @Test
    void delayMessageIsStoredForItsDeliveryTimeAndNeverEarly() throws Exception {
        String run = "delay-" + UUID.randomUUID();
        long deliverAt = System.currentTimeMillis() + 2_000;
        try (Producer p = producer(tlsConfiguration(), DELAY_TOPIC)) {
            p.send(PROVIDER.newMessageBuilder()
                .setTopic(DELAY_TOPIC)
                .setDeliveryTimestamp(deliverAt)
                .setBody(utf8(run))
                .build());
        }
        List<MessageExt> stored = readBack(DELAY_TOPIC, run, 1, Duration.ofSeconds(60));
        assertEquals(1, stored.size());
        MessageExt m = stored.get(0);
        assertEquals(Long.toString(deliverAt), m.getProperty("TIMER_OUT_MS"));
        assertTrue(m.getStoreTimestamp() >= deliverAt,
            "delivered at " + m.getStoreTimestamp() + ", before " + deliverAt);
    }

    @Test
    void committedTransactionIsStoredAndRolledBackOneIsNot() throws Exception {
        String run = "tx-" + UUID.randomUUID() + "-";
        Producer p = PROVIDER.newProducerBuilder()
            .setClientConfiguration(tlsConfiguration())
            .setTopics(TX_TOPIC)
            .setTransactionChecker(view -> TransactionResolution.UNKNOWN)
            .build();
        try {
            Transaction commit = p.beginTransaction();
            p.send(PROVIDER.newMessageBuilder().setTopic(TX_TOPIC).setBody(utf8(run + "commit")).build(), commit);
            Transaction rollback = p.beginTransaction();
            p.send(PROVIDER.newMessageBuilder().setTopic(TX_TOPIC).setBody(utf8(run + "rollback")).build(), rollback);
            rollback.rollback();
            commit.commit();
        } finally {
            p.close();
        }
        // Stored in commit-log order: once the committed message is readable, a leaked half
        // message sent before it would be too.
        List<MessageExt> stored = readBack(TX_TOPIC, run, 1, Duration.ofSeconds(30));
        assertEquals(1, stored.size());
        assertEquals(run + "commit", text(stored.get(0)));
    }

    @Test
    void anUnresolvedTransactionIsCheckedAndCommittedByTheChecker() throws Exception {
        String run = "tx-check-" + UUID.randomUUID();
        CountDownLatch checked = new CountDownLatch(1);
        Map<String, Boolean> asked = new ConcurrentHashMap<>();
        Producer p = PROVIDER.newProducerBuilder()
            .setClientConfiguration(tlsConfiguration())
            .setTopics(TX_TOPIC)
            .setTransactionChecker(view -> {
                String body = java.nio.charset.StandardCharsets.UTF_8.decode(view.getBody()).toString();
                asked.put(body, true);
                checked.countDown();
                return body.equals(run) ? TransactionResolution.COMMIT : TransactionResolution.UNKNOWN;
            })
            .build();
        try {
            Transaction t = p.beginTransaction();
            p.send(PROVIDER.newMessageBuilder().setTopic(TX_TOPIC).setBody(utf8(run)).build(), t);
            // Neither committed nor rolled back: the broker must ask the checker.
            assertTrue(checked.await(120, TimeUnit.SECONDS), "the broker never checked the transaction");
            assertTrue(asked.containsKey(run));
            List<MessageExt> stored = readBack(TX_TOPIC, run, 1, Duration.ofSeconds(30));
            assertEquals(1, stored.size());
            assertEquals(run, text(stored.get(0)));
        } finally {
            p.close();
        }
    }

    @Test
    void wrongMessageTypeIsRefusedWithAnError() throws Exception {
        try (Producer p = producer(tlsConfiguration(), NORMAL_TOPIC)) {
            Message fifo = PROVIDER.newMessageBuilder()
                .setTopic(NORMAL_TOPIC)
                .setMessageGroup("g")
                .setBody(utf8("not for a NORMAL topic"))
                .build();
            Exception e = assertThrows(Exception.class, () -> p.send(fifo));
            assertFalse(String.valueOf(e.getMessage()).isEmpty());
        }
    }
}
