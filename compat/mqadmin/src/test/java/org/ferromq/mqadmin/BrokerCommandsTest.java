package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** clusterList, brokerStatus, getBrokerConfig, updateBrokerConfig. */
class BrokerCommandsTest extends MqadminTest {
    /** {@code key : value} or {@code key = value} lines of a command's output. */
    private static Map<String, String> keyValues(String output, String separator) {
        Map<String, String> values = new LinkedHashMap<>();
        Matcher m = Pattern.compile("^(\\S+)\\s*" + separator + "\\s*(.*?)\\s*$", Pattern.MULTILINE).matcher(output);
        while (m.find()) {
            values.put(m.group(1), m.group(2));
        }
        return values;
    }

    @Test
    void clusterListShowsTheBrokerWithItsAddressVersionAndActivation() {
        Broker broker = broker();
        String out = mqadmin("clusterList").ok();
        Pattern row = Pattern.compile("^" + Pattern.quote(broker.cluster()) + "\\s+" + Pattern.quote(broker.name())
            + "\\s+0\\s+" + Pattern.quote(broker.addr()) + "\\s+V\\d+_\\d+_\\d+\\S*\\s+.*\\s+true\\s*$", Pattern.MULTILINE);
        assertTrue(row.matcher(out).find(), "clusterList shows cluster, broker name, id 0, address, version, active:\n" + out);
        assertTrue(!out.contains("Exception"), out);
    }

    @Test
    void brokerStatusShowsRuntimeStatistics() {
        Broker broker = broker();
        Map<String, String> stats = keyValues(mqadmin("brokerStatus", "-b", broker.addr()).ok(), ":");
        for (String key : new String[] {"brokerVersionDesc", "msgPutTotalTodayNow", "msgGetTotalTodayNow", "putTps",
            "getTransferredTps", "bootTimestamp", "commitLogMaxOffset", "brokerActive"}) {
            assertTrue(stats.containsKey(key), "brokerStatus shows " + key + ": " + stats);
        }
        assertEquals("true", stats.get("brokerActive"));
        long boot = Long.parseLong(stats.get("bootTimestamp"));
        assertTrue(boot > 0 && boot <= System.currentTimeMillis(), "boot timestamp " + boot);

        String byCluster = mqadmin("brokerStatus", "-c", broker.cluster()).ok();
        assertTrue(byCluster.lines().anyMatch(l -> l.startsWith(broker.addr()) && l.contains("brokerActive")),
            "brokerStatus -c prefixes each line with the broker's address:\n" + byCluster);
    }

    @Test
    void getBrokerConfigShowsTheBrokersSettings() {
        Broker broker = broker();
        String out = mqadmin("getBrokerConfig", "-b", broker.addr()).ok();
        assertTrue(out.startsWith("============" + broker.addr() + "============"), out);
        Map<String, String> config = keyValues(out, "=");
        assertEquals(broker.name(), config.get("brokerName"), out);
        assertEquals(broker.cluster(), config.get("brokerClusterName"), out);

        String byCluster = mqadmin("getBrokerConfig", "-c", broker.cluster()).ok();
        assertTrue(byCluster.contains("============Master: " + broker.addr() + "============"), byCluster);
        assertEquals(broker.name(), keyValues(byCluster, "=").get("brokerName"), byCluster);
    }

    @Test
    void updateBrokerConfigThenGetBrokerConfigShowsTheNewValue() {
        Broker broker = broker();
        String before = keyValues(mqadmin("getBrokerConfig", "-b", broker.addr()).ok(), "=").get("maxMessageSize");
        String changed = Integer.toString(Integer.parseInt(before) - 1024);
        try {
            String out = mqadmin("updateBrokerConfig", "-b", broker.addr(), "-k", "maxMessageSize", "-v", changed).ok();
            assertTrue(out.contains("update broker config success, " + broker.addr()), out);
            assertEquals(changed, keyValues(mqadmin("getBrokerConfig", "-b", broker.addr()).ok(), "=").get("maxMessageSize"));

            String byCluster = mqadmin("updateBrokerConfig", "-c", broker.cluster(), "-k", "maxMessageSize", "-v", before).ok();
            assertTrue(byCluster.contains("update broker config success, " + broker.addr()), byCluster);
            assertEquals(before, keyValues(mqadmin("getBrokerConfig", "-b", broker.addr()).ok(), "=").get("maxMessageSize"));
        } finally {
            mqadmin("updateBrokerConfig", "-b", broker.addr(), "-k", "maxMessageSize", "-v", before);
        }
    }

    /**
     * ferromq only: Apache RocketMQ 5.3.3 accepts `brokerName` at run time and re-registers under the new
     * name, which breaks every route its clients hold (compat/FINDINGS.md, A1).
     */
    @Test
    @Tag("ferromq-only")
    void updateBrokerConfigOfASettingThatCannotChangeAtRunTimeIsRefusedWithTheReason() {
        Broker broker = broker();
        Throwable refused = mqadmin("updateBrokerConfig", "-b", broker.addr(), "-k", "brokerName", "-v", "other").failed();
        assertTrue(Mqadmin.describe(refused).contains("cannot be changed while the broker runs"), Mqadmin.describe(refused));
        assertEquals(broker.name(), keyValues(mqadmin("getBrokerConfig", "-b", broker.addr()).ok(), "=").get("brokerName"));
    }
}
