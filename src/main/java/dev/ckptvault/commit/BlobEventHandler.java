package dev.ckptvault.commit;

import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageCalls;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.logging.Logger;
import dev.ckptvault.events.BlobEvent;
import dev.ckptvault.events.BlobEventParser;

/**
 * Applies blob events to the index. Idempotent and order-independent: a file row keeps the
 * highest sequencer seen for its blob, and every state decision is re-derived from storage by
 * {@link CheckpointSync}. Reads no blob content but manifests and commit records (through the
 * sync). Only {@link StorageUnavailableException} escapes, so Event Grid retries just the
 * transient failures.
 */
public final class BlobEventHandler {
    private static final Logger LOG = Logger.getLogger(BlobEventHandler.class.getName());
    private static final int MAX_LOGGED_IGNORED = 10_000;

    public enum Outcome { APPLIED, STALE, IGNORED, BAD }

    private final BlobEventParser parser = new BlobEventParser();
    private final String account;
    private final String container;
    private final IndexStore index;
    private final CheckpointSync sync;
    private final ContainerStore store;
    private final Clock clock;
    private final Consumer<Instant> eventSeen;
    private final Set<String> loggedIgnored = ConcurrentHashMap.newKeySet();

    public BlobEventHandler(String account, String container, IndexStore index, CheckpointSync sync,
                            ContainerStore store, Clock clock, Consumer<Instant> eventSeen) {
        this.account = account.toLowerCase();
        this.container = container;
        this.index = index;
        this.sync = sync;
        this.store = store;
        this.clock = clock;
        this.eventSeen = eventSeen;
    }

    /** Handles one delivery (one event or a batch); returns one outcome per event. */
    public List<Outcome> handle(String json) {
        eventSeen.accept(Instant.now(clock));
        List<BlobEvent> events;
        try {
            events = parser.parse(json);
        } catch (BlobEventParser.BadEventException e) {
            LOG.warning("acknowledging a bad event: " + e.getMessage());
            return List.of(Outcome.BAD);
        }
        return events.stream().map(this::apply).toList();
    }

    public Outcome apply(BlobEvent e) {
        if (!e.account().equals(account) || !e.container().equals(container)) {
            logIgnoredOnce("foreign:" + e.account() + "/" + e.container(),
                    "ignoring events of account " + e.account() + " container " + e.container());
            return Outcome.IGNORED;
        }
        Optional<BlobName> name = BlobName.parse(e.blobName());
        if (name.isEmpty()) {
            String first = e.blobName().contains("/") ? e.blobName().substring(0, e.blobName().indexOf('/'))
                    : e.blobName();
            logIgnoredOnce("layout:" + first, "ignoring blobs outside the layout under '" + clipped(first) + "'");
            return Outcome.IGNORED;
        }
        try {
            BlobName n = name.get();
            if (n instanceof BlobName.File f) {
                return file(f, e);
            }
            if (n instanceof BlobName.Record r) {
                if (r.kind() == BlobName.Kind.ATTEMPT && index.checkpoint(r.checkpoint()).isPresent()) {
                    return Outcome.IGNORED;
                }
                sync.refresh(r.checkpoint());
                return Outcome.APPLIED;
            }
            BlobName.RunRecord rr = (BlobName.RunRecord) n;
            // The app never deletes a run record; and an event is not proof that the blob exists.
            if (e.kind() == BlobEvent.Kind.DELETED || store.etag(e.blobName()).isEmpty()) {
                return Outcome.IGNORED;
            }
            index.putRun(rr.run(), e.eventTime() == null ? Instant.now(clock) : e.eventTime().toInstant());
            return Outcome.APPLIED;
        } catch (StorageUnavailableException ex) {
            throw ex;
        } catch (RuntimeException ex) {
            if (StorageCalls.isTransient(ex)) {
                throw new StorageUnavailableException("storage unavailable while handling an event", ex);
            }
            LOG.warning("acknowledging an event that cannot be applied (" + ex.getClass().getSimpleName() + ") for "
                    + clipped(e.blobName()));
            return Outcome.BAD;
        }
    }

    private Outcome file(BlobName.File f, BlobEvent e) {
        CheckpointId id = f.checkpoint();
        String path = f.path().value();
        boolean deleted = e.kind() == BlobEvent.Kind.DELETED;
        // A creation is recorded only while the blob exists: an event about a blob that never
        // existed changes nothing, and one about a blob deleted since is followed by its deletion's
        // event, which ends in the same row either way.
        Optional<String> current = deleted ? Optional.empty() : store.etag(e.blobName());
        if (!deleted && current.isEmpty()) {
            return Outcome.IGNORED;
        }
        for (int attempt = 0; attempt < 8; attempt++) {
            Optional<IndexStore.FileRow> row = index.file(id, path);
            if (row.isPresent() && !newer(e, row.get(), current)) {
                return Outcome.STALE;
            }
            if (index.putFileConditionally(id, path, deleted ? 0 : e.size(), e.eTag(), e.sequencer(), deleted,
                    row.map(IndexStore.FileRow::rowEtag).orElse(null))) {
                // The write above never touches the commit record's view of the file: the row read is current for it.
                afterFileChange(id, row.map(IndexStore.FileRow::recordedEtag).orElse(null), e);
                return Outcome.APPLIED;
            }
        }
        throw new StorageUnavailableException("file row for " + id + " kept changing under contention", null);
    }

    /**
     * Whether the event is newer than what the row holds. Rows rebuilt from a listing have no
     * sequencer: then the blob's current properties decide whether the event still describes it.
     */
    private boolean newer(BlobEvent e, IndexStore.FileRow row, Optional<String> knownCurrent) {
        if (!row.sequencer().isEmpty()) {
            return compareSequencers(e.sequencer(), row.sequencer()) > 0;
        }
        Optional<String> current = knownCurrent.isPresent() ? knownCurrent : store.etag(e.blobName());
        if (e.kind() == BlobEvent.Kind.DELETED) {
            return current.isEmpty() && !row.deleted();
        }
        return current.isPresent() && e.eTag().equals(current.get())
                && (row.deleted() || !e.eTag().equals(row.etag()));
    }

    /** Sequencers are hex strings of equal length in practice; longer means later otherwise. */
    static int compareSequencers(String a, String b) {
        return a.length() != b.length() ? Integer.compare(a.length(), b.length()) : a.compareTo(b);
    }

    /** @param recordedEtag the file's eTag in the commit record, null when the record does not list it */
    private void afterFileChange(CheckpointId id, String recordedEtag, BlobEvent e) {
        Optional<IndexStore.CheckpointRow> row = index.checkpoint(id);
        if (row.isEmpty()) {
            sync.refresh(id);
            return;
        }
        CheckpointState state = row.get().summary().state();
        if (state == CheckpointState.COMMITTING || state == CheckpointState.ABANDONED) {
            sync.refresh(id);
        } else if (state == CheckpointState.COMMITTED) {
            // A committed file changed or vanished (refresh flags it), or a late event of its recorded version arrived.
            if (recordedEtag == null || e.kind() == BlobEvent.Kind.DELETED || !recordedEtag.equals(e.eTag())) {
                sync.refresh(id);
            }
        }
    }

    private void logIgnoredOnce(String key, String message) {
        if (loggedIgnored.size() < MAX_LOGGED_IGNORED && loggedIgnored.add(key)) {
            LOG.info(message + " (logged once)");
        }
    }

    private static String clipped(String s) {
        return s.length() > 100 ? s.substring(0, 100) + "..." : s;
    }
}
