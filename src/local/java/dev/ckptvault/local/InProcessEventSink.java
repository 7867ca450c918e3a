package dev.ckptvault.local;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import java.util.List;

/** Delivers events to every Event Grid function of the app in this process, as a subscription per function would. */
public final class InProcessEventSink implements EventSink {
    private final EventGridDispatcher dispatcher;

    public InProcessEventSink(EventGridDispatcher dispatcher) {
        this.dispatcher = dispatcher;
    }

    @Override
    public String deliver(List<ObjectNode> events) {
        List<String> texts = events.stream().map(Json::write).toList();
        for (FunctionHost.EventGridFunction f : dispatcher.host().eventGridFunctions()) {
            String failure = dispatcher.deliver(f, texts);
            if (failure != null) {
                return failure;
            }
        }
        return null;
    }
}
