package dev.ckptvault.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {runId}/_run.json, the run record. The first upload request of a run creates it with an empty
 * policy (the app's defaults apply); a run record once written is never removed by the app, so
 * the set of runs known to exist can be cached for the life of the process.
 */
public final class RunRecords {
    private final ContainerStore store;
    private final Clock clock;
    private final Set<RunId> known = ConcurrentHashMap.newKeySet();

    private final IndexStore index;

    public RunRecords(ContainerStore store, IndexStore index, Clock clock) {
        this.store = store;
        this.index = index;
        this.clock = clock;
    }

    public static String blobName(RunId run) {
        return run.prefix() + "_run.json";
    }

    /** Creates the run record with the default policy unless it exists. */
    public void ensureExists(RunId run) {
        if (known.contains(run)) {
            return;
        }
        Instant now = Instant.now(clock);
        boolean created = store.createIfAbsent(blobName(run), Json.bytes(newRecord(run, now)), Map.of());
        // The blob event would add the run row too; writing it here makes the run visible at once.
        if (created || index.run(run).isEmpty()) {
            index.putRun(run, now);
        }
        known.add(run);
    }

    /** A fresh run record: the app's default policy applies (no retention field set). */
    private static ObjectNode newRecord(RunId run, Instant now) {
        ObjectNode raw = Json.MAPPER.createObjectNode();
        raw.put("runId", run.value());
        raw.put("createdAt", now.toString());
        raw.set("retention", Json.MAPPER.createObjectNode());
        return raw;
    }

    /**
     * The stored run record.
     *
     * @param retention only the fields the user set (may be empty), as stored
     * @param raw       the whole stored document (fields this version does not know survive updates)
     * @param eTag      the version read, for a conditional replace
     * @param problem   why the stored document could not be read (written out of band), else null
     */
    public record Stored(String runId, Instant createdAt, JsonNode retention, ObjectNode raw, String eTag,
                         String problem) {
    }

    /** The run record, or empty when the run has none (never uploaded, never PUT). */
    public Optional<Stored> read(RunId run) {
        return store.read(blobName(run)).map(c -> parse(run, c.data(), c.etag()));
    }

    private static Stored parse(RunId run, byte[] data, String eTag) {
        ObjectNode raw;
        String problem = null;
        try {
            JsonNode node = Json.MAPPER.readTree(data);
            raw = node instanceof ObjectNode o ? o : Json.MAPPER.createObjectNode();
            problem = node instanceof ObjectNode ? null : "is not a JSON object";
        } catch (IOException e) {
            // Written out of band and unreadable: an empty record with a problem; the next PUT replaces it.
            raw = Json.MAPPER.createObjectNode();
            problem = "is not valid JSON";
        }
        Instant createdAt = null;
        JsonNode c = raw.get("createdAt");
        if (c != null && c.isTextual()) {
            try {
                createdAt = Instant.parse(c.textValue());
            } catch (RuntimeException ignored) {
                createdAt = null;
            }
        }
        JsonNode retention = raw.get("retention");
        return new Stored(run.value(), createdAt, retention == null ? Json.MAPPER.createObjectNode() : retention, raw,
                eTag, problem);
    }

    /**
     * Sets the run's retention fields, creating the record if absent. A conditional replace on
     * the eTag read keeps concurrent writers from losing each other's updates (the loser reads
     * again and reapplies its change).
     *
     * @return the record as stored after this call
     */
    public Stored putRetention(RunId run, ObjectNode retention) {
        return update(run, raw -> {
            raw.set("retention", retention);
            return raw;
        });
    }

    /** Attempts at a conditional replace before giving up on a run record under heavy contention. */
    private static final int MAX_REPLACE_ATTEMPTS = 8;

    private Stored update(RunId run, UnaryOperator<ObjectNode> change) {
        for (int attempt = 0; attempt < MAX_REPLACE_ATTEMPTS; attempt++) {
            Optional<Stored> current = read(run);
            if (current.isEmpty()) {
                Instant now = Instant.now(clock);
                if (store.createIfAbsent(blobName(run), Json.bytes(change.apply(newRecord(run, now))), Map.of())) {
                    index.putRun(run, now);
                    known.add(run);
                    return read(run).orElseThrow();
                }
                continue;
            }
            ObjectNode raw = current.get().raw().deepCopy();
            if (!raw.has("runId")) {
                raw.put("runId", run.value());
            }
            if (!raw.has("createdAt")) {
                raw.put("createdAt", Instant.now(clock).toString());
            }
            if (store.replaceIfMatch(blobName(run), current.get().eTag(), Json.bytes(change.apply(raw)), Map.of())) {
                known.add(run);
                return read(run).orElseThrow();
            }
        }
        throw new StorageUnavailableException(
                "run record " + blobName(run) + " kept changing; try again", null);
    }

    /** Every run in the container (one listing call per 5,000 runs: the top-level prefixes). */
    public List<RunId> listRuns() {
        return store.topLevelFolders().stream().filter(RunId::isValid).map(RunId::new).toList();
    }
}
