package org.ferromq.compat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.apache.rocketmq.common.message.MessageExt;

/** Every delivery a listener saw, in arrival order, with the time it arrived. */
final class Received {
    record Delivery(MessageExt msg, long atMillis) {
        String id() {
            return msg.getUserProperty(CompatTest.ID);
        }
    }

    private final List<Delivery> deliveries = new ArrayList<>();

    synchronized void add(List<MessageExt> msgs) {
        long now = System.currentTimeMillis();
        for (MessageExt m : msgs) {
            deliveries.add(new Delivery(m, now));
        }
    }

    synchronized int size() {
        return deliveries.size();
    }

    synchronized List<Delivery> all() {
        return new ArrayList<>(deliveries);
    }

    /** Deliveries by test id; an id delivered twice has two entries. */
    synchronized Map<String, List<Delivery>> byId() {
        return deliveries.stream().collect(Collectors.groupingBy(Delivery::id, TreeMap::new, Collectors.toList()));
    }

    synchronized boolean containsAll(java.util.Collection<String> ids) {
        return byId().keySet().containsAll(ids);
    }
}
