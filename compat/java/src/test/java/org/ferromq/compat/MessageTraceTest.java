package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.apache.rocketmq.client.QueryResult;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.client.trace.TraceBean;
import org.apache.rocketmq.client.trace.TraceContext;
import org.apache.rocketmq.client.trace.TraceDataEncoder;
import org.apache.rocketmq.client.trace.TraceType;
import org.apache.rocketmq.common.topic.TopicValidator;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * The client's own message trace (enableMsgTrace): producer and consumer write Pub, SubBefore and
 * SubAfter records to RMQ_SYS_TRACE_TOPIC, keyed by the message id, so the trace of a message can be
 * found by its id (what mqadmin's queryMsgTraceById does, here with queryMessage).
 */
class MessageTraceTest extends CompatTest {
    @Test
    void producerAndConsumerTracesAreFoundByMessageId() throws Exception {
        String topic = unique("Trace");
        String producerGroup = unique("pg");
        String consumerGroup = unique("cg");
        DefaultMQProducer admin = startProducer(unique("adminpg"));
        createTopic(admin, topic, 4);

        DefaultMQProducer producer = new DefaultMQProducer(producerGroup, null, true, null);
        configure(producer);
        producer.start();
        onTearDown(producer::shutdown);

        DefaultMQPushConsumer consumer = new DefaultMQPushConsumer(consumerGroup, null,
                new org.apache.rocketmq.client.consumer.rebalance.AllocateMessageQueueAveragely(), true, null);
        configure(consumer);
        consumer.setConsumeFromWhere(org.apache.rocketmq.common.consumer.ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        onTearDown(consumer::shutdown);
        Received received = new Received();
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            received.add(msgs);
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        long begin = System.currentTimeMillis() - 1_000;
        Message m = message(topic, "TagT", "traced-1");
        SendResult r = producer.send(m);
        assertEquals(SendStatus.SEND_OK, r.getSendStatus());
        await("the traced message is consumed", Duration.ofSeconds(60), () -> received.containsAll(List.of("traced-1")));

        Map<TraceType, TraceContext> byType = new EnumMap<>(TraceType.class);
        List<TraceBean> beans = new ArrayList<>();
        await("Pub, SubBefore and SubAfter traces of " + r.getMsgId() + " are found", Duration.ofSeconds(60), () -> {
            try {
                QueryResult q = admin.queryMessage(TopicValidator.RMQ_SYS_TRACE_TOPIC, r.getMsgId(), 32, begin,
                        System.currentTimeMillis() + 1_000);
                for (MessageExt t : q.getMessageList()) {
                    for (TraceContext c : TraceDataEncoder.decoderFromTraceDataString(new String(t.getBody(), StandardCharsets.UTF_8))) {
                        for (TraceBean b : c.getTraceBeans()) {
                            if (r.getMsgId().equals(b.getMsgId())) {
                                byType.putIfAbsent(c.getTraceType(), c);
                                beans.add(b);
                            }
                        }
                    }
                }
                return byType.keySet().containsAll(List.of(TraceType.Pub, TraceType.SubBefore, TraceType.SubAfter));
            } catch (Exception notThereYet) {
                return false;
            }
        });

        TraceContext pub = byType.get(TraceType.Pub);
        assertEquals(producerGroup, pub.getGroupName(), "Pub trace group");
        assertTrue(pub.isSuccess(), "Pub trace says the send succeeded");
        TraceBean pubBean = pub.getTraceBeans().get(0);
        assertEquals(topic, pubBean.getTopic(), "Pub trace topic");
        assertEquals("TagT", pubBean.getTags(), "Pub trace tag");
        assertEquals(m.getKeys(), pubBean.getKeys(), "Pub trace keys");
        assertEquals(r.getOffsetMsgId(), pubBean.getOffsetMsgId(), "Pub trace offset message id");
        assertEquals(consumerGroup, byType.get(TraceType.SubBefore).getGroupName(), "SubBefore trace group");
        assertEquals(consumerGroup, byType.get(TraceType.SubAfter).getGroupName(), "SubAfter trace group");
        assertTrue(byType.get(TraceType.SubAfter).isSuccess(), "SubAfter trace says the consumption succeeded");
    }
}
