package dev.ckptvault.events;

import com.azure.core.models.CloudEvent;
import com.azure.json.JsonReader;
import com.azure.messaging.eventgrid.implementation.models.EventGridEvent;
import com.azure.messaging.eventgrid.systemevents.StorageBlobCreatedEventData;
import com.azure.messaging.eventgrid.systemevents.StorageBlobDeletedEventData;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.checkpoint.ETags;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses Event Grid deliveries (Event Grid schema or CloudEvents 1.0; one event or a batch) with
 * azure-messaging-eventgrid. Anything that is not a well-formed blob event of a storage account
 * is a {@link BadEventException}: permanent, to be logged and acknowledged.
 *
 * <p>The SDK's deserializers spin forever on some malformed values (4.31.5: a field they read as
 * a string holding an empty array, see {@link BoundedJsonReader}). So the delivery is first read
 * with Jackson and every field the SDK reads is checked for its type; only then does the SDK parse
 * each event, through a reader that stops any read past the document's end. A delivery's parse is
 * thereby linear in its size, and no event can hold a thread.
 */
public final class BlobEventParser {
    /** Longest subject accepted: the container prefix plus Azure's 1,024-character blob names. */
    static final int MAX_SUBJECT = 1200;
    /** Event Grid delivers at most 5,000 events at once. */
    static final int MAX_BATCH = 5000;
    private static final Pattern SUBJECT =
            Pattern.compile("/blobServices/default/containers/([a-z0-9-]{3,63})/blobs/(.+)");
    private static final Pattern TOPIC =
            Pattern.compile("(?i).*/providers/Microsoft\\.Storage/storageAccounts/([^/]{1,64})");

    /** Fields the SDK reads as strings, per schema; {@code data} must be an object in both. */
    private static final Set<String> EVENT_GRID_STRINGS =
            Set.of("id", "topic", "subject", "eventType", "eventTime", "dataVersion", "metadataVersion");
    private static final Set<String> EVENT_GRID_REQUIRED = Set.of("id", "subject", "eventType", "eventTime");
    private static final Set<String> CLOUD_STRINGS =
            Set.of("id", "source", "type", "specversion", "subject", "time", "datacontenttype", "dataschema");
    private static final Set<String> CLOUD_REQUIRED = Set.of("id", "source", "type", "specversion");
    /** What StorageBlobCreatedEventData and StorageBlobDeletedEventData read, by type. */
    private static final Set<String> DATA_STRINGS = Set.of("api", "clientRequestId", "requestId", "eTag",
            "contentType", "blobType", "url", "sequencer", "identity", "accessTier", "destinationUrl", "sourceUrl",
            "recursive", "blobTier", "previousTier");
    private static final Set<String> DATA_INTEGERS = Set.of("contentLength", "contentOffset");
    private static final Set<String> DATA_OBJECTS = Set.of("storageDiagnostics");

    /** A delivery that can never be processed; retrying it would not help. */
    public static final class BadEventException extends RuntimeException {
        public BadEventException(String message) {
            super(message);
        }
    }

    public List<BlobEvent> parse(String json) {
        if (json == null || json.isBlank()) {
            throw new BadEventException("empty event");
        }
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new BadEventException("not JSON");
        }
        List<JsonNode> events = new ArrayList<>();
        if (root != null && root.isArray()) {
            root.forEach(events::add);
        } else if (root != null && root.isObject()) {
            events.add(root);
        }
        if (events.isEmpty()) {
            throw new BadEventException("a delivery must be an event or a non-empty array of events");
        }
        if (events.size() > MAX_BATCH) {
            throw new BadEventException("a delivery of " + events.size() + " events; at most " + MAX_BATCH);
        }
        List<BlobEvent> out = new ArrayList<>(events.size());
        for (JsonNode e : events) {
            out.add(parseOne(e));
        }
        return out;
    }

    private static BlobEvent parseOne(JsonNode e) {
        if (!e.isObject()) {
            throw new BadEventException("an event must be a JSON object");
        }
        boolean cloud = e.has("specversion");
        requireShape(e, cloud ? CLOUD_STRINGS : EVENT_GRID_STRINGS, cloud ? CLOUD_REQUIRED : EVENT_GRID_REQUIRED);
        String text = Json.write(e);
        try {
            if (cloud) {
                CloudEvent c = CloudEvent.fromJson(BoundedJsonReader.of(text));
                return build(c.getType(), c.getId(), c.getSource(), c.getSubject(), e.get("data"), c.getTime());
            }
            // The generated model that EventGridEvent.fromString uses: the public EventGridEvent.fromJson
            // of 4.31.5 answers an event whose getters throw NullPointerException.
            EventGridEvent g = EventGridEvent.fromJson(BoundedJsonReader.of(text));
            return build(g.getEventType(), g.getId(), g.getTopic(), g.getSubject(), e.get("data"), g.getEventTime());
        } catch (BadEventException ex) {
            throw ex;
        } catch (IOException | RuntimeException ex) {
            throw new BadEventException("not a valid " + (cloud ? "CloudEvents" : "Event Grid") + " event: "
                    + ex.getClass().getSimpleName());
        }
    }

    /** The types of every field the SDK reads, checked before it reads them. */
    private static void requireShape(JsonNode e, Set<String> strings, Set<String> required) {
        for (String f : strings) {
            JsonNode v = e.get(f);
            if (v == null || v.isNull()) {
                if (required.contains(f)) {
                    throw new BadEventException("event lacks " + f);
                }
            } else if (!v.isTextual()) {
                throw new BadEventException("event field " + f + " must be a string");
            }
        }
        JsonNode data = e.get("data");
        if (data == null || !data.isObject()) {
            throw new BadEventException("event data must be an object");
        }
        for (String f : DATA_STRINGS) {
            JsonNode v = data.get(f);
            if (v != null && !v.isNull() && !v.isTextual()) {
                throw new BadEventException("event data." + f + " must be a string");
            }
        }
        for (String f : DATA_INTEGERS) {
            JsonNode v = data.get(f);
            if (v != null && !v.isNull() && !(v.isIntegralNumber() && v.canConvertToLong())) {
                throw new BadEventException("event data." + f + " must be an integer");
            }
        }
        for (String f : DATA_OBJECTS) {
            JsonNode v = data.get(f);
            if (v != null && !v.isNull() && !v.isObject()) {
                throw new BadEventException("event data." + f + " must be an object");
            }
        }
    }

    private static BlobEvent build(String type, String id, String topic, String subject, JsonNode data,
                                   OffsetDateTime time) throws IOException {
        if (!BlobEvent.CREATED_TYPE.equals(type) && !BlobEvent.DELETED_TYPE.equals(type)) {
            throw new BadEventException("unsupported event type " + clip(type));
        }
        if (subject == null || subject.length() > MAX_SUBJECT) {
            throw new BadEventException("missing or oversized subject");
        }
        Matcher s = SUBJECT.matcher(subject);
        if (!s.matches()) {
            throw new BadEventException("subject is not a blob: " + clip(subject));
        }
        Matcher t = topic == null ? null : TOPIC.matcher(topic);
        if (t == null || !t.matches()) {
            throw new BadEventException("topic is not a storage account: " + clip(topic));
        }
        JsonReader dataReader = BoundedJsonReader.of(Json.write(data));
        if (BlobEvent.CREATED_TYPE.equals(type)) {
            StorageBlobCreatedEventData d = StorageBlobCreatedEventData.fromJson(dataReader);
            if (d == null || d.getETag() == null || d.getContentLength() == null || d.getSequencer() == null
                    || d.getContentLength() < 0) {
                throw new BadEventException("BlobCreated data lacks eTag, contentLength or sequencer");
            }
            return new BlobEvent(BlobEvent.Kind.CREATED, id, t.group(1).toLowerCase(), s.group(1), s.group(2),
                    ETags.normalize(d.getETag()), d.getContentLength(), d.getSequencer(), time);
        }
        StorageBlobDeletedEventData d = StorageBlobDeletedEventData.fromJson(dataReader);
        if (d == null || d.getSequencer() == null) {
            throw new BadEventException("BlobDeleted data lacks a sequencer");
        }
        return new BlobEvent(BlobEvent.Kind.DELETED, id, t.group(1).toLowerCase(), s.group(1), s.group(2), null, -1,
                d.getSequencer(), time);
    }

    private static String clip(String s) {
        return s == null ? "null" : s.length() > 120 ? s.substring(0, 120) + "..." : s;
    }
}
