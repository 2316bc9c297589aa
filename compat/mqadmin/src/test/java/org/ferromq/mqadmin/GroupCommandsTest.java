package org.ferromq.mqadmin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** updateSubGroup, deleteSubGroup, checked with getConsumerConfig. */
class GroupCommandsTest extends MqadminTest {
    /** The {@code field = value} lines getConsumerConfig prints for a group. */
    private static Map<String, String> consumerConfig(String output) {
        Map<String, String> fields = new HashMap<>();
        Matcher m = Pattern.compile("^(\\w+)\\s*=\\s{2}(.*?)\\s*$", Pattern.MULTILINE).matcher(output);
        while (m.find()) {
            fields.put(m.group(1), m.group(2));
        }
        return fields;
    }

    @Test
    void updateSubGroupCreatesTheGroupWithItsSettingsAndDeleteSubGroupRemovesIt() {
        Broker broker = broker();
        String group = unique("admin_group");

        String created = mqadmin("updateSubGroup", "-c", broker.cluster(), "-g", group, "-r", "5", "-o", "true",
            "-d", "false", "-m", "false").ok();
        assertTrue(created.contains("create subscription group to " + broker.addr() + " success."), created);

        String shown = mqadmin("getConsumerConfig", "-g", group).ok();
        assertTrue(shown.contains(broker.cluster() + ":" + broker.name()), shown);
        Map<String, String> config = consumerConfig(shown);
        assertEquals(group, config.get("groupName"), shown);
        assertEquals("5", config.get("retryMaxTimes"), shown);
        assertEquals("true", config.get("consumeMessageOrderly"), shown);
        assertEquals("false", config.get("consumeBroadcastEnable"), shown);
        assertEquals("true", config.get("consumeEnable"), shown);

        // changing one setting keeps the group and shows the new value
        mqadmin("updateSubGroup", "-b", broker.addr(), "-g", group, "-r", "7").ok();
        assertEquals("7", consumerConfig(mqadmin("getConsumerConfig", "-g", group).ok()).get("retryMaxTimes"));

        String deleted = mqadmin("deleteSubGroup", "-c", broker.cluster(), "-g", group).ok();
        assertTrue(deleted.contains("delete subscription group [" + group + "] from broker [" + broker.addr()
            + "] in cluster [" + broker.cluster() + "] success."), deleted);
        // the command reads the broker's whole group table and prints nothing for a group not in it
        String after = mqadmin("getConsumerConfig", "-g", group).ok();
        assertTrue(!after.contains("groupName"), "getConsumerConfig no longer shows " + group + ":\n" + after);
    }
}
