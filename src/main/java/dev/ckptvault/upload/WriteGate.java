package dev.ckptvault.upload;

import com.azure.storage.blob.models.BlobItem;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Decides from storage itself whether a step accepts writes for the given paths, and opens a new
 * attempt when the step is fresh, abandoned or deleted. One listing of the step's '_' records
 * answers the common case; the manifest is read only while a commit is pending.
 *
 * <p>The attempt record {@code _attempt.json} marks when the current attempt began: the commit
 * check never accepts a file written before it, so a crashed attempt's leftovers cannot be
 * committed into the next one.
 */
public final class WriteGate {
    private final ContainerStore store;
    private final Clock clock;

    public WriteGate(ContainerStore store, Clock clock) {
        this.store = store;
        this.clock = clock;
    }

    /**
     * Throws {@link ConflictException} unless every path may be written now.
     *
     * @param incompleteTtl how long an uncommitted attempt stays open after its last activity
     */
    public void admit(CheckpointId id, List<RelativePath> paths, Duration incompleteTtl) {
        Map<BlobName.Kind, BlobItem> records = store.records(id);
        if (records.containsKey(BlobName.Kind.COMMIT)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_COMMITTED,
                    "checkpoint " + id.step() + " of run " + id.run() + " is committed and immutable", "step");
        }
        if (records.containsKey(BlobName.Kind.TOMBSTONE)) {
            reopenDeleted(id, records.get(BlobName.Kind.TOMBSTONE));
            startAttempt(id, null);
            return;
        }
        if (records.containsKey(BlobName.Kind.MANIFEST)) {
            requireListed(id, paths);
            return;
        }
        BlobItem attempt = records.get(BlobName.Kind.ATTEMPT);
        if (attempt == null) {
            startAttempt(id, null);
        } else if (isAbandoned(id, attempt, incompleteTtl)) {
            startAttempt(id, attempt.getProperties().getETag());
        }
    }

    private void reopenDeleted(CheckpointId id, BlobItem tombstone) {
        boolean othersLeft = store.list(id.prefix(), false).stream()
                .anyMatch(b -> !b.getName().equals(id.tombstoneBlob()));
        if (othersLeft) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " is being deleted; retry when it is DELETED",
                    "step");
        }
        // A deleted step may be written again; its tombstone would otherwise mark the new files as DELETING.
        store.deleteIfMatch(id.tombstoneBlob(), tombstone.getProperties().getETag());
    }

    private void requireListed(CheckpointId id, List<RelativePath> paths) {
        byte[] manifest = store.download(id.manifestBlob()).orElse(null);
        if (manifest == null) {
            return;
        }
        Set<String> listed = new HashSet<>();
        try {
            JsonNode files = Json.MAPPER.readTree(manifest).get("files");
            files.forEach(f -> listed.add(f.get("path").asText()));
        } catch (Exception e) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " has an invalid manifest (FAILED)", "step");
        }
        for (int i = 0; i < paths.size(); i++) {
            if (!listed.contains(paths.get(i).value())) {
                throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                        "checkpoint " + id.step() + " is committing; its manifest does not list '" + paths.get(i) + "'",
                        "files[" + i + "].path");
            }
        }
    }

    /** Abandoned: no activity (attempt start, file written) for longer than the TTL. */
    private boolean isAbandoned(CheckpointId id, BlobItem attempt, Duration ttl) {
        Instant cutoff = Instant.now(clock).minus(ttl);
        if (!lastModified(attempt).isBefore(cutoff)) {
            return false;
        }
        return store.list(id.prefix(), false).stream().allMatch(b -> lastModified(b).isBefore(cutoff));
    }

    private static Instant lastModified(BlobItem item) {
        OffsetDateTime t = item.getProperties().getLastModified();
        return t == null ? Instant.EPOCH : t.toInstant();
    }

    private void startAttempt(CheckpointId id, String replacingETag) {
        byte[] record = Json.bytes(Map.of("startedAt", Instant.now(clock).toString()));
        if (replacingETag == null) {
            store.createIfAbsent(id.attemptBlob(), record, Map.of());
        } else {
            // Losing this race means another rank opened the new attempt first: join it.
            store.replaceIfMatch(id.attemptBlob(), replacingETag, record, Map.of());
        }
    }
}
