package dev.ckptvault.local;

import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobItemProperties;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.ListBlobsOptions;
import dev.ckptvault.checkpoint.ETags;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The local event source: Azurite emits no Event Grid events, so this watcher lists blobs and
 * emits {@code Microsoft.Storage.BlobCreated} / {@code BlobDeleted} in Azure's Event Grid schema.
 *
 * <p>Cost: each poll lists only the checkpoints its supplier names, one listing per checkpoint,
 * plus one final listing after a checkpoint leaves that set. The local host names the open ones
 * (UPLOADING or COMMITTING) and those committed within {@code CKPT_URL_MAX_MINUTES}: a write URL
 * issued before a commit may still break the commit lease and overwrite a file, and that change
 * must turn the checkpoint TAMPERED as a blob event does in Azure. Older checkpoints are not
 * listed again (no live URL can write them), so a poll costs the same with ten or ten thousand
 * of them. The price: blobs written under an older settled checkpoint out of band (deletion by
 * retention, a key holder) produce no local event; the sweep and the services that change them
 * do not depend on these events.
 *
 * <p>Delivery is at least once: a checkpoint's snapshot (blob name to eTag) advances only when
 * its whole batch was accepted, so a failed batch is diffed and sent again on the next poll (with
 * new sequencers, describing the blobs as they are then).
 *
 * <p>{@code data.sequencer} is 32 hex digits: the watcher's start time in milliseconds, then a
 * counter over every event it emits, so string comparison orders any two events of one blob, also
 * across restarts of the watcher. {@code data.api} is {@code PutBlob} for every creation: a listing
 * cannot tell Put Blob from Put Block List.
 */
public final class BlobEventWatcher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(BlobEventWatcher.class.getName());
    static final String LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000";
    static final String LOCAL_RESOURCE_GROUP = "local";

    /** What the watcher remembers of one blob. */
    private record Seen(String eTag, String contentType, long contentLength, String blobType) {
    }

    private final BlobContainerClient container;
    private final String containerName;
    private final String containerUrl;
    private final String topic;
    private final Supplier<List<CheckpointId>> open;
    private final EventSink sink;
    private final Clock clock;
    private final long epoch;
    private final AtomicLong counter = new AtomicLong();
    private final AtomicLong listings = new AtomicLong();
    private final Map<CheckpointId, Map<String, Seen>> snapshots = new ConcurrentHashMap<>();
    private volatile ScheduledExecutorService timer;

    /**
     * @param container the container to watch, read with the SDK directly: the watcher plays Event
     *                  Grid's part, outside the app
     * @param open      the checkpoints to watch now (asked on every poll)
     */
    public BlobEventWatcher(BlobContainerClient container, String accountName, Supplier<List<CheckpointId>> open,
                            EventSink sink, Clock clock) {
        this.container = container;
        this.containerName = container.getBlobContainerName();
        this.containerUrl = container.getBlobContainerUrl();
        this.topic = "/subscriptions/" + LOCAL_SUBSCRIPTION + "/resourceGroups/" + LOCAL_RESOURCE_GROUP
                + "/providers/Microsoft.Storage/storageAccounts/" + accountName;
        this.open = open;
        this.sink = sink;
        this.clock = clock;
        this.epoch = clock.millis();
    }

    /** Polls every {@code interval} on a background thread until closed. */
    public synchronized void start(Duration interval) {
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "blob-event-watcher");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(() -> {
            try {
                pollOnce();
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "event watcher poll failed; retrying next poll: " + e.getMessage());
            }
        }, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * One pass: lists every watched checkpoint (and each that just left the watched set, one last
     * time), emits the differences, and returns how many events were delivered.
     */
    public synchronized int pollOnce() {
        Set<CheckpointId> watch = new LinkedHashSet<>(open.get());
        Set<CheckpointId> stillOpen = Set.copyOf(watch);
        watch.addAll(snapshots.keySet());
        int delivered = 0;
        for (CheckpointId id : watch) {
            listings.incrementAndGet();
            Map<String, Seen> now = new LinkedHashMap<>();
            for (BlobItem item : container.listBlobs(new ListBlobsOptions().setPrefix(id.prefix()), null)) {
                BlobItemProperties p = item.getProperties();
                now.put(item.getName(), new Seen(ETags.normalize(p.getETag()), p.getContentType(),
                        p.getContentLength() == null ? 0 : p.getContentLength(),
                        p.getBlobType() == null ? "BlockBlob" : p.getBlobType().toString()));
            }
            Map<String, Seen> before = snapshots.getOrDefault(id, Map.of());
            List<ObjectNode> events = new ArrayList<>();
            now.forEach((name, seen) -> {
                Seen old = before.get(name);
                if (old == null || !old.eTag().equals(seen.eTag())) {
                    events.add(event("Microsoft.Storage.BlobCreated", name, seen));
                }
            });
            before.forEach((name, seen) -> {
                if (!now.containsKey(name)) {
                    events.add(event("Microsoft.Storage.BlobDeleted", name, seen));
                }
            });
            if (!events.isEmpty()) {
                String failure = sink.deliver(events);
                if (failure != null) {
                    LOG.warning(events.size() + " events of " + id + " not accepted (" + failure
                            + "); they are sent again on the next poll");
                    continue;
                }
                delivered += events.size();
            }
            if (stillOpen.contains(id)) {
                snapshots.put(id, now);
            } else {
                snapshots.remove(id);
            }
        }
        return delivered;
    }

    private ObjectNode event(String type, String blobName, Seen blob) {
        boolean created = type.endsWith("Created");
        ObjectNode e = Json.MAPPER.createObjectNode();
        e.put("topic", topic);
        e.put("subject", "/blobServices/default/containers/" + containerName + "/blobs/" + blobName);
        e.put("eventType", type);
        e.put("eventTime", clock.instant().toString());
        e.put("id", UUID.randomUUID().toString());
        ObjectNode data = e.putObject("data");
        data.put("api", created ? "PutBlob" : "DeleteBlob");
        if (created) {
            data.put("clientRequestId", UUID.randomUUID().toString());
        }
        data.put("requestId", UUID.randomUUID().toString());
        if (created) {
            data.put("eTag", blob.eTag());
        }
        data.put("contentType", blob.contentType() == null ? "application/octet-stream" : blob.contentType());
        if (created) {
            data.put("contentLength", blob.contentLength());
        }
        data.put("blobType", blob.blobType());
        data.put("url", containerUrl + "/" + blobName);
        data.put("sequencer", String.format("%016x%016x", epoch, counter.incrementAndGet()));
        data.putObject("storageDiagnostics").put("batchId", UUID.randomUUID().toString());
        e.put("dataVersion", "");
        e.put("metadataVersion", "1");
        return e;
    }

    /** Listing calls made so far (one per watched checkpoint per poll). */
    public long listings() {
        return listings.get();
    }

    /** Checkpoints the watcher currently keeps a snapshot of. */
    public Set<CheckpointId> watched() {
        return Set.copyOf(new HashMap<>(snapshots).keySet());
    }

    @Override
    public void close() {
        if (timer != null) {
            timer.shutdownNow();
        }
    }
}
