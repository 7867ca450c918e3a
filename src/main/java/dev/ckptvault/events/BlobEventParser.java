package dev.ckptvault.events;

import com.azure.core.models.CloudEvent;
import com.azure.core.util.BinaryData;
import com.azure.messaging.eventgrid.EventGridEvent;
import com.azure.messaging.eventgrid.systemevents.StorageBlobCreatedEventData;
import com.azure.messaging.eventgrid.systemevents.StorageBlobDeletedEventData;
import dev.ckptvault.checkpoint.ETags;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Parses Event Grid deliveries (Event Grid schema or CloudEvents 1.0; one event or a batch) with
 * azure-messaging-eventgrid. Anything that is not a well-formed blob event of a storage account
 * is a {@link BadEventException}: permanent, to be logged and acknowledged.
 */
public final class BlobEventParser {
    /** Longest subject accepted: the container prefix plus Azure's 1,024-character blob names. */
    static final int MAX_SUBJECT = 1200;
    private static final Pattern SUBJECT =
            Pattern.compile("/blobServices/default/containers/([a-z0-9-]{3,63})/blobs/(.+)");
    private static final Pattern TOPIC =
            Pattern.compile("(?i).*/providers/Microsoft\\.Storage/storageAccounts/([^/]{1,64})");

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
        boolean cloud = json.contains("\"specversion\"");
        List<BlobEvent> out = new ArrayList<>();
        try {
            if (cloud) {
                for (CloudEvent e : CloudEvent.fromString(json)) {
                    out.add(build(e.getType(), e.getId(), e.getSource(), e.getSubject(), e.getData(), e.getTime()));
                }
            } else {
                for (EventGridEvent e : EventGridEvent.fromString(json)) {
                    out.add(build(e.getEventType(), e.getId(), e.getTopic(), e.getSubject(), e.getData(),
                            e.getEventTime()));
                }
            }
        } catch (BadEventException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new BadEventException("not a valid " + (cloud ? "CloudEvents" : "Event Grid") + " event: "
                    + e.getClass().getSimpleName());
        }
        return out;
    }

    private static BlobEvent build(String type, String id, String topic, String subject, BinaryData data,
                                   OffsetDateTime time) {
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
        if (data == null) {
            throw new BadEventException("event has no data");
        }
        if (BlobEvent.CREATED_TYPE.equals(type)) {
            StorageBlobCreatedEventData d = data.toObject(StorageBlobCreatedEventData.class);
            if (d == null || d.getETag() == null || d.getContentLength() == null || d.getSequencer() == null
                    || d.getContentLength() < 0) {
                throw new BadEventException("BlobCreated data lacks eTag, contentLength or sequencer");
            }
            return new BlobEvent(BlobEvent.Kind.CREATED, id, t.group(1).toLowerCase(), s.group(1), s.group(2),
                    ETags.normalize(d.getETag()), d.getContentLength(), d.getSequencer(), time);
        }
        StorageBlobDeletedEventData d = data.toObject(StorageBlobDeletedEventData.class);
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
