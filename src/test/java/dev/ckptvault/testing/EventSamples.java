package dev.ckptvault.testing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Blob events built from Microsoft's documented sample payloads (src/test/resources/events, taken
 * from "Azure Blob Storage as an Event Grid source"), with only the values of one real blob write
 * substituted: account, container, blob name, eTag, length, sequencer.
 */
public final class EventSamples {
    public enum Schema { EVENT_GRID, CLOUD_EVENTS }

    private static final AtomicLong SEQUENCER = new AtomicLong(0x28963);

    private EventSamples() {
    }

    /** A strictly increasing sequencer in Azure's 32-hex-digit form. */
    public static String nextSequencer() {
        return String.format("%016X%016X", 0x442L, SEQUENCER.incrementAndGet());
    }

    public static String created(Schema schema, String account, String container, String blob, String eTag,
                                 long size, String sequencer) {
        ObjectNode e = sample(schema, "blob-created");
        point(e, schema, account, container, blob, sequencer);
        ObjectNode data = (ObjectNode) e.get("data");
        data.put("eTag", eTag);
        data.put("contentLength", size);
        return Json.write(Json.MAPPER.createArrayNode().add(e));
    }

    public static String deleted(Schema schema, String account, String container, String blob, String sequencer) {
        ObjectNode e = sample(schema, "blob-deleted");
        point(e, schema, account, container, blob, sequencer);
        return Json.write(Json.MAPPER.createArrayNode().add(e));
    }

    private static void point(ObjectNode e, Schema schema, String account, String container, String blob,
                              String sequencer) {
        String topic = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Storage/providers/"
                + "Microsoft.Storage/storageAccounts/" + account;
        e.put(schema == Schema.EVENT_GRID ? "topic" : "source", topic);
        e.put("subject", "/blobServices/default/containers/" + container + "/blobs/" + blob);
        e.put("id", UUID.randomUUID().toString());
        ObjectNode data = (ObjectNode) e.get("data");
        data.put("url", "https://" + account + ".blob.core.windows.net/" + container + "/" + blob);
        data.put("sequencer", sequencer);
    }

    /** The documented sample itself, unchanged. */
    public static String raw(Schema schema, String kind) {
        return Json.write(Json.MAPPER.createArrayNode().add(sample(schema, kind)));
    }

    private static ObjectNode sample(Schema schema, String kind) {
        String file = "/eventgrid/" + kind + (schema == Schema.EVENT_GRID ? ".eventgrid.json" : ".cloudevents.json");
        try (InputStream in = EventSamples.class.getResourceAsStream(file)) {
            return (ObjectNode) ((ArrayNode) Json.MAPPER.readTree(in)).get(0);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
