package dev.ckptvault.commit;

import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * Rebuilds the index from the container alone: run records, files, manifests, commit records and
 * tombstones. Index rows of checkpoints that no longer have any blob are dropped.
 */
public final class Reindexer {
    private final ContainerStore store;
    private final IndexStore index;
    private final CheckpointSync sync;

    public Reindexer(ContainerStore store, IndexStore index, CheckpointSync sync) {
        this.store = store;
        this.index = index;
        this.sync = sync;
    }

    /** @param only one run, or null for every run in the container */
    public Map<String, Object> reindex(RunId only) {
        Map<RunId, Instant> runs = new TreeMap<>();
        // One listing of the container (with metadata: pins) serves every checkpoint's rebuild.
        Map<CheckpointId, List<StoredBlob>> checkpoints = new TreeMap<>();
        int ignored = 0;
        for (StoredBlob item : store.list(only == null ? "" : only.prefix(), true)) {
            BlobName name = BlobName.parse(item.name()).orElse(null);
            CheckpointId of = name instanceof BlobName.File f ? f.checkpoint()
                    : name instanceof BlobName.Record rec ? rec.checkpoint() : null;
            if (name instanceof BlobName.RunRecord r) {
                runs.put(r.run(), item.createdAt());
            } else if (of != null) {
                checkpoints.computeIfAbsent(of, k -> new ArrayList<>()).add(item);
                runs.putIfAbsent(of.run(), item.createdAt());
            } else {
                ignored++;
            }
        }
        runs.forEach(index::putRun);
        Map<CheckpointState, Integer> states = new EnumMap<>(CheckpointState.class);
        for (Map.Entry<CheckpointId, List<StoredBlob>> e : checkpoints.entrySet()) {
            Checkpoint c = sync.rebuild(e.getKey(), e.getValue());
            if (c != null) {
                states.merge(c.state(), 1, Integer::sum);
            }
        }
        int dropped = 0;
        for (RunId run : runs.keySet()) {
            List<Checkpoint> indexed = sync.allOfRun(run);
            for (Checkpoint c : indexed) {
                CheckpointId id = CheckpointId.of(c.runId(), c.step());
                if (!checkpoints.containsKey(id)) {
                    index.dropCheckpoint(id);
                    dropped++;
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("runs", runs.size());
        out.put("checkpoints", checkpoints.size());
        out.put("states", states);
        out.put("droppedRows", dropped);
        out.put("ignoredBlobs", ignored);
        return out;
    }
}
