package org.ferromq.compat5;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.UUID;

import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.consumer.DefaultMQPullConsumer;
import org.apache.rocketmq.client.consumer.PullResult;
import org.apache.rocketmq.client.consumer.PullStatus;
import org.apache.rocketmq.common.message.MessageExt;
import org.apache.rocketmq.common.message.MessageQueue;

/**
 * Shared set-up: the v5 client configuration pointing at ferromq's gRPC endpoint, and a v4
 * remoting pull consumer that reads back what the broker stored. Reading through the other
 * protocol is the honest check: it sees the stored messages, not the producer's receipts, and it
 * also shows that a v5-sent message is readable by a v4 client.
 *
 * The topics are created by run.sh (`ferromq admin updateTopic -a +message.type=...`), since a v5
 * topic's message type is a topic attribute.
 */
abstract class Compat5Test {
    static final String GRPC = System.getProperty("grpc", "127.0.0.1:8081");
    static final String NAMESRV = System.getProperty("namesrv", "127.0.0.1:9876");
    static final String NORMAL_TOPIC = "compat5-normal";
    static final String FIFO_TOPIC = "compat5-fifo";
    static final String DELAY_TOPIC = "compat5-delay";
    static final String TX_TOPIC = "compat5-tx";

    static final ClientServiceProvider PROVIDER = ClientServiceProvider.loadService();

    /** TLS on: the v5 client's default, which ferromq answers with a self-signed certificate. */
    static ClientConfiguration tlsConfiguration() {
        return ClientConfiguration.newBuilder()
            .setEndpoints(GRPC)
            .setRequestTimeout(Duration.ofSeconds(10))
            .build();
    }

    static ClientConfiguration plaintextConfiguration() {
        return ClientConfiguration.newBuilder()
            .setEndpoints(GRPC)
            .enableSsl(false)
            .setRequestTimeout(Duration.ofSeconds(10))
            .build();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String text(MessageExt m) {
        return new String(m.getBody(), StandardCharsets.UTF_8);
    }

    /**
     * Every stored message of {@code topic} whose body starts with {@code prefix}, read with a
     * remoting pull consumer from offset 0 of each queue, waiting up to {@code wait} until at least
     * {@code expected} are there. Sorted by queue, then queue offset.
     */
    static List<MessageExt> readBack(String topic, String prefix, int expected, Duration wait)
        throws Exception {
        DefaultMQPullConsumer consumer = new DefaultMQPullConsumer("compat5-reader-" + UUID.randomUUID());
        consumer.setNamesrvAddr(NAMESRV);
        consumer.start();
        try {
            long deadline = System.nanoTime() + wait.toNanos();
            while (true) {
                List<MessageExt> found = new ArrayList<>();
                Set<MessageQueue> queues = consumer.fetchSubscribeMessageQueues(topic);
                for (MessageQueue q : queues) {
                    long offset = 0;
                    while (true) {
                        PullResult r = consumer.pull(q, "*", offset, 32);
                        if (r.getPullStatus() != PullStatus.FOUND) {
                            break;
                        }
                        for (MessageExt m : r.getMsgFoundList()) {
                            if (text(m).startsWith(prefix)) {
                                found.add(m);
                            }
                        }
                        offset = r.getNextBeginOffset();
                    }
                }
                if (found.size() >= expected || System.nanoTime() > deadline) {
                    found.sort(Comparator.comparing((MessageExt m) -> m.getQueueId())
                        .thenComparingLong(MessageExt::getQueueOffset));
                    return found;
                }
                Thread.sleep(100);
            }
        } finally {
            consumer.shutdown();
        }
    }
}
