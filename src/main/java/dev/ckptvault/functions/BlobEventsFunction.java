package dev.ckptvault.functions;

import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.annotation.EventGridTrigger;
import com.microsoft.azure.functions.annotation.FunctionName;
import dev.ckptvault.commit.BlobEventHandler;

/**
 * Blob created/deleted events of the checkpoint container. Returns normally for applied, stale,
 * ignored and permanently bad events (acknowledged); throws only when storage is unavailable, so
 * Event Grid retries exactly the deliveries that may succeed later.
 */
public class BlobEventsFunction {
    private final BlobEventHandler handler;

    public BlobEventsFunction(BlobEventHandler handler) {
        this.handler = handler;
    }

    @FunctionName("BlobEvents")
    public void run(@EventGridTrigger(name = "event") String event, ExecutionContext context) {
        handler.handle(event);
    }
}
