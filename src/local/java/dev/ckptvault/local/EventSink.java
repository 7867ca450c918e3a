package dev.ckptvault.local;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/** Where the local event source delivers a batch of Event Grid schema events. */
@FunctionalInterface
public interface EventSink {
    /** @return null when the whole batch was accepted, else why not (the batch is retried) */
    String deliver(List<ObjectNode> events);
}
