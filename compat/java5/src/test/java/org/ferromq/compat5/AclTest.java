package org.ferromq.compat5;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.StaticSessionCredentialsProvider;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;
import org.apache.rocketmq.client.java.exception.ForbiddenException;
import org.apache.rocketmq.client.java.exception.UnauthorizedException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The v5 client signing with {@code StaticSessionCredentialsProvider} against a broker with
 * authentication and authorization on (run by run-acl.sh, which creates the user and its ACL with
 * {@code ferromq admin}): the allowed user sends and consumes every message of its topic; a wrong
 * secret is refused as UNAUTHORIZED, a topic outside the user's ACL as FORBIDDEN.
 */
class AclTest extends Compat5Test {
    static final String OPEN_TOPIC = "AclOpen5";
    static final String DENIED_TOPIC = "AclDenied5";
    static final String GROUP_PREFIX = "AclGroup5-";

    private static String user;
    private static String secret;

    @BeforeAll
    static void credentials() {
        String value = System.getProperty("compat.acl.user");
        Assumptions.assumeTrue(Boolean.getBoolean("compat.acl") && value != null, "not an ACL run");
        String[] parts = value.split(":", 2);
        user = parts[0];
        secret = parts[1];
    }

    private static ClientConfiguration signedAs(String accessKey, String secretKey) {
        return ClientConfiguration.newBuilder()
            .setEndpoints(GRPC)
            .setCredentialProvider(new StaticSessionCredentialsProvider(accessKey, secretKey))
            .setRequestTimeout(Duration.ofSeconds(10))
            .build();
    }

    private static String body(MessageView m) {
        return StandardCharsets.UTF_8.decode(m.getBody()).toString();
    }

    /** Whatever {@code action} throws, or its causes, of type {@code type}; fails if none. */
    private static <T extends Throwable> T refusal(Class<T> type, ThrowingRunnable action) {
        try {
            action.run();
        } catch (Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (type.isInstance(c)) {
                    return type.cast(c);
                }
            }
            throw new AssertionError("expected " + type.getSimpleName() + ", got " + t, t);
        }
        return fail("expected " + type.getSimpleName() + ", but the call succeeded");
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void allowedUserSendsAndConsumesEveryMessage() throws Exception {
        String run = "acl5-" + UUID.randomUUID() + "-";
        Set<String> sent = new HashSet<>();
        try (Producer p = PROVIDER.newProducerBuilder()
            .setClientConfiguration(signedAs(user, secret))
            .setTopics(OPEN_TOPIC)
            .build()) {
            for (int i = 0; i < 5; i++) {
                String b = run + i;
                assertNotNull(p.send(PROVIDER.newMessageBuilder().setTopic(OPEN_TOPIC).setBody(utf8(b)).build()));
                sent.add(b);
            }
        }
        Set<String> got = new HashSet<>();
        try (SimpleConsumer c = PROVIDER.newSimpleConsumerBuilder()
            .setClientConfiguration(signedAs(user, secret))
            .setConsumerGroup(GROUP_PREFIX + UUID.randomUUID())
            .setSubscriptionExpressions(Collections.singletonMap(OPEN_TOPIC, FilterExpression.SUB_ALL))
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

    @Test
    void wrongSecretIsUnauthorized() {
        UnauthorizedException e = refusal(UnauthorizedException.class, () -> {
            try (Producer p = PROVIDER.newProducerBuilder()
                .setClientConfiguration(signedAs(user, secret + "-wrong"))
                .setTopics(OPEN_TOPIC)
                .build()) {
                p.send(PROVIDER.newMessageBuilder().setTopic(OPEN_TOPIC).setBody(utf8("never")).build());
            }
        });
        assertTrue(e.getMessage().contains("check signature failed"), e.getMessage());
    }

    @Test
    void topicOutsideTheAclIsForbidden() {
        ForbiddenException e = refusal(ForbiddenException.class, () -> {
            try (Producer p = PROVIDER.newProducerBuilder()
                .setClientConfiguration(signedAs(user, secret))
                .build()) {
                p.send(PROVIDER.newMessageBuilder().setTopic(DENIED_TOPIC).setBody(utf8("never")).build());
            }
        });
        assertTrue(e.getMessage().contains("User:" + user), e.getMessage());
        assertTrue(e.getMessage().contains("Topic:" + DENIED_TOPIC), e.getMessage());
        ForbiddenException sub = refusal(ForbiddenException.class, () -> {
            try (SimpleConsumer c = PROVIDER.newSimpleConsumerBuilder()
                .setClientConfiguration(signedAs(user, secret))
                .setConsumerGroup(GROUP_PREFIX + UUID.randomUUID())
                .setSubscriptionExpressions(Collections.singletonMap(DENIED_TOPIC, FilterExpression.SUB_ALL))
                .setAwaitDuration(Duration.ofSeconds(1))
                .build()) {
                c.receive(1, Duration.ofSeconds(30));
            }
        });
        assertTrue(sub.getMessage().contains("Topic:" + DENIED_TOPIC), sub.getMessage());
    }
}
