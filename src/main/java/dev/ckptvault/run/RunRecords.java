package dev.ckptvault.run;

import dev.ckptvault.index.IndexStore;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import java.time.Clock;
import java.time.Instant;
import java.util.LinkedHashMap;
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
        Map<String, Object> record = new LinkedHashMap<>();
        record.put("runId", run.value());
        record.put("createdAt", now.toString());
        record.put("retention", Map.of());
        if (store.createIfAbsent(blobName(run), Json.bytes(record), Map.of())) {
            // The blob event would add the run row too; writing it here makes the run visible at once.
            index.putRun(run, now);
        } else if (index.run(run).isEmpty()) {
            index.putRun(run, now);
        }
        known.add(run);
    }
}
