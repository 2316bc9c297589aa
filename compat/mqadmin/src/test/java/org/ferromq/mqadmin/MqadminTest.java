package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BooleanSupplier;
import org.apache.rocketmq.client.exception.MQClientException;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.remoting.protocol.body.ClusterInfo;
import org.apache.rocketmq.remoting.protocol.route.BrokerData;
import org.apache.rocketmq.tools.admin.DefaultMQAdminExt;
import org.junit.jupiter.api.AfterEach;

/**
 * What every test needs: the name server, unique names, running mqadmin commands against the cluster,
 * clients shut down after the test, and waiting on conditions with deadlines.
 */
abstract class MqadminTest {
    private final Deque<Runnable> shutdowns = new ArrayDeque<>();

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

    /** {@code mqadmin NAME -n NAMESRV ARGS...}. */
    static Mqadmin.Result mqadmin(String name, String... args) {
        List<String> all = new ArrayList<>(List.of("-n", namesrv()));
        all.addAll(List.of(args));
        return Mqadmin.run(name, all.toArray(new String[0]));
    }

    @AfterEach
    void shutDownClients() {
        while (!shutdowns.isEmpty()) {
            shutdowns.pop().run();
        }
    }

    void onTearDown(Runnable shutdown) {
        shutdowns.push(shutdown);
    }

    /** The one cluster the tests run against, as the name server describes it. */
    record Broker(String cluster, String name, String addr) {}

    static Broker broker() {
        DefaultMQAdminExt admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(namesrv());
        admin.setInstanceName(unique("setup"));
        try {
            admin.start();
            ClusterInfo info = admin.examineBrokerClusterInfo();
            for (Map.Entry<String, java.util.Set<String>> cluster : info.getClusterAddrTable().entrySet()) {
                for (String name : cluster.getValue()) {
                    BrokerData data = info.getBrokerAddrTable().get(name);
                    return new Broker(cluster.getKey(), name, data.selectBrokerAddr());
                }
            }
            throw new IllegalStateException("the name server knows no broker: " + info);
        } catch (Exception e) {
            throw new IllegalStateException("cannot read the cluster from " + namesrv(), e);
        } finally {
            admin.shutdown();
        }
    }

    DefaultMQProducer startProducer(String group) throws MQClientException {
        DefaultMQProducer producer = new DefaultMQProducer(group);
        producer.setNamesrvAddr(namesrv());
        producer.setInstanceName(unique("producer"));
        producer.start();
        onTearDown(producer::shutdown);
        return producer;
    }

    /**
     * Creates a topic with mqadmin and waits until the name server routes it: the broker registers it
     * right after answering, and a producer that looks the route up before falls back to the default
     * topic's route (and its queue count).
     */
    static void createTopic(Broker broker, String topic, int queues) {
        mqadmin("updateTopic", "-c", broker.cluster(), "-t", topic, "-r", Integer.toString(queues),
            "-w", Integer.toString(queues)).ok();
        DefaultMQAdminExt admin = new DefaultMQAdminExt();
        admin.setNamesrvAddr(namesrv());
        admin.setInstanceName(unique("route"));
        try {
            admin.start();
            eventually("the name server routes " + topic, Duration.ofSeconds(10), () -> {
                try {
                    return admin.examineTopicRouteInfo(topic).getQueueDatas().stream()
                        .anyMatch(q -> q.getWriteQueueNums() == queues);
                } catch (Exception notYet) {
                    return false;
                }
            });
        } catch (MQClientException e) {
            throw new IllegalStateException("cannot start an admin client", e);
        } finally {
            admin.shutdown();
        }
    }

    static void eventually(String what, Duration timeout, BooleanSupplier condition) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("not within " + timeout + ": " + what);
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for: " + what);
            }
        }
    }
}
