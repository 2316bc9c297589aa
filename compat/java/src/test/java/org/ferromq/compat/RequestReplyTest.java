package org.ferromq.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.RequestCallback;
import org.apache.rocketmq.client.utils.MessageUtil;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;
import org.junit.jupiter.api.Test;

/**
 * Request/reply (4.9.x): `producer.request(msg, timeout)` waits for the reply a consumer sends with
 * `MessageUtil.createReplyMessage` (topic `<cluster>_REPLY_TOPIC`, SEND_REPLY_MESSAGE_V2), which the
 * broker pushes back to the requesting client (PUSH_REPLY_MESSAGE_TO_CLIENT).
 *
 * The 5.x client (5.3.3) cannot do this with the blocking `request(msg, timeout)`: its send callback
 * counts the reply latch down as soon as the broker acknowledges the request, so the call throws
 * RequestTimeoutException at once unless the reply was faster than the acknowledgement (it does so
 * against Apache RocketMQ as well). With a 5.x client the scenario uses the callback form
 * `request(msg, RequestCallback, timeout)`, which has the same wire exchange; in 5.3.3 it calls
 * `onSuccess(null)` at the acknowledgement and `onSuccess(reply)` when the reply arrives.
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
            Message reply = request(requester, request);
            assertNotNull(reply, "reply to req-" + i);
            assertArrayEquals(("reply to req-" + i).getBytes(StandardCharsets.UTF_8), reply.getBody(), "reply body");
            assertEquals("reply-req-" + i, reply.getUserProperty(ID), "reply property");
        }
    }

    private static Message request(DefaultMQProducer requester, Message request) throws Exception {
        if (clientVersion().startsWith("V4")) {
            return requester.request(request, 10_000);
        }
        CompletableFuture<Message> reply = new CompletableFuture<>();
        requester.request(request, new RequestCallback() {
            @Override
            public void onSuccess(Message message) {
                if (message != null) {
                    reply.complete(message);
                }
            }

            @Override
            public void onException(Throwable e) {
                reply.completeExceptionally(e);
            }
        }, 10_000);
        return reply.get(15, TimeUnit.SECONDS);
    }
}
