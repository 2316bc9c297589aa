package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.LocalTransactionState;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.producer.TransactionListener;
import org.apache.rocketmq.client.producer.TransactionMQProducer;
import org.apache.rocketmq.client.producer.TransactionSendResult;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;
import org.junit.jupiter.api.Test;

/**
 * Scenario 5: a transaction producer. COMMIT is delivered, ROLLBACK never is, UNKNOW is resolved by the
 * broker's check-back (every transactionCheckInterval, 30 s in ferromq and 60 s in Apache RocketMQ 4.x by
 * default), answered COMMIT, and then delivered.
 */
class TransactionTest extends CompatTest {
    @Test
    void commitIsDeliveredRollbackNeverAndUnknownAfterCheckBack() throws Exception {
        String topic = unique("Tx");
        DefaultMQProducer admin = startProducer(unique("pg"));
        List<MessageQueue> queues = createTopic(admin, topic, 4);

        Set<String> checked = ConcurrentHashMap.newKeySet();
        TransactionMQProducer producer = new TransactionMQProducer(unique("txpg"));
        configure(producer);
        producer.setTransactionListener(new TransactionListener() {
            @Override
            public LocalTransactionState executeLocalTransaction(Message msg, Object arg) {
                return (LocalTransactionState) arg;
            }

            @Override
            public LocalTransactionState checkLocalTransaction(MessageExt msg) {
                checked.add(msg.getUserProperty(ID));
                return LocalTransactionState.COMMIT_MESSAGE;
            }
        });
        producer.start();
        onTearDown(producer::shutdown);

        Map<String, Message> delivered = new HashMap<>();
        Set<String> unknown = new TreeSet<>();
        for (LocalTransactionState outcome : LocalTransactionState.values()) {
            for (int i = 0; i < 3; i++) {
                Message m = message(topic, "TagTx", outcome + "-" + i);
                TransactionSendResult r = producer.sendMessageInTransaction(m, outcome);
                assertEquals(SendStatus.SEND_OK, r.getSendStatus(), "half message " + m.getUserProperty(ID));
                assertEquals(outcome, r.getLocalTransactionState());
                if (outcome != LocalTransactionState.ROLLBACK_MESSAGE) {
                    delivered.put(m.getUserProperty(ID), m);
                }
                if (outcome == LocalTransactionState.UNKNOW) {
                    unknown.add(m.getUserProperty(ID));
                }
            }
        }

        Received received = new Received();
        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        await("the committed and the checked-then-committed messages arrive", Duration.ofSeconds(150),
                () -> received.containsAll(delivered.keySet()));
        awaitConsumedToEnd(consumer, admin, queues);

        assertEquals(delivered.size(), storedCount(admin, queues), "messages visible in the topic");
        var byId = received.byId();
        assertEquals(delivered.keySet(), byId.keySet(), "ids delivered");
        for (var e : byId.entrySet()) {
            assertEquals(1, e.getValue().size(), "deliveries of " + e.getKey());
            assertIntact(delivered.get(e.getKey()), e.getValue().get(0).msg());
        }
        assertEquals(unknown, new TreeSet<>(checked), "transactions the broker asked about");
    }
}
