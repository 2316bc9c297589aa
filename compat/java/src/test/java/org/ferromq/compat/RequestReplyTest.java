package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * Request/reply (4.9.x): `producer.request(msg, timeout)` waits for the reply a consumer sends with
 * `MessageUtil.createReplyMessage` (topic `<cluster>_REPLY_TOPIC`, SEND_REPLY_MESSAGE_V2), which the
 * broker pushes back to the requesting client (PUSH_REPLY_MESSAGE_TO_CLIENT).
 */
class RequestReplyTest extends CompatTest {
    @Test
    void requestGetsTheReplyTheConsumerSends() throws Exception {
        String topic = unique("Request");
        DefaultMQProducer requester = startProducer(unique("pg"));
        createTopic(requester, topic, 4);
        DefaultMQProducer replier = startProducer(unique("replypg"));

        DefaultMQPushConsumer consumer = pushConsumer(unique("cg"));
        consumer.subscribe(topic, "*");
        consumer.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            for (MessageExt request : msgs) {
                try {
                    byte[] answer = ("reply to " + request.getUserProperty(ID)).getBytes(StandardCharsets.UTF_8);
                    Message reply = MessageUtil.createReplyMessage(request, answer);
                    reply.putUserProperty(ID, "reply-" + request.getUserProperty(ID));
                    replier.send(reply);
                } catch (Exception e) {
                    throw new IllegalStateException("could not reply to " + request.getUserProperty(ID), e);
                }
            }
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        consumer.start();

        for (int i = 0; i < 3; i++) {
            Message request = message(topic, "TagReq", "req-" + i);
            Message reply = requester.request(request, 10_000);
            assertNotNull(reply, "reply to req-" + i);
            assertArrayEquals(("reply to req-" + i).getBytes(StandardCharsets.UTF_8), reply.getBody(), "reply body");
            assertEquals("reply-req-" + i, reply.getUserProperty(ID), "reply property");
        }
    }
}
