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
 *
 * <p>Run by run, the run's index rows are read first and its blobs listed after; every row written
 * from that listing is conditional on the version read, so a row that a commit, an event or the
 * sweep wrote while the reindex ran (a view younger than the listing) is neither replaced by the
 * listing's older view nor dropped. Such a checkpoint is synced again from a listing of its own.
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
        List<String> folders = only == null ? store.topLevelFolders() : List.of(only.value());
        Map<CheckpointState, Integer> states = new EnumMap<>(CheckpointState.class);
        int runs = 0;
        int checkpointCount = 0;
        int dropped = 0;
        int ignored = 0;
        int changedMeanwhile = 0;
        for (String folder : folders) {
            RunId run = RunId.isValid(folder) ? new RunId(folder) : null;
            // Rows before blobs: whatever is written to a row after this read is younger than the listing.
            Map<Long, IndexStore.CheckpointRow> rows = run == null ? Map.of() : rowsOf(run);
            Map<CheckpointId, Map<String, IndexStore.FileRow>> files = run == null ? Map.of() : index.filesOfRun(run);
            Instant runCreated = null;
            boolean runRecord = false;
            Map<CheckpointId, List<StoredBlob>> checkpoints = new TreeMap<>();
            for (StoredBlob item : store.list(folder + "/", true)) {
                BlobName name = BlobName.parse(item.name()).orElse(null);
                CheckpointId of = name instanceof BlobName.File f ? f.checkpoint()
                        : name instanceof BlobName.Record rec ? rec.checkpoint() : null;
                if (name instanceof BlobName.RunRecord) {
                    runCreated = item.createdAt();
                    runRecord = true;
                } else if (of != null) {
                    checkpoints.computeIfAbsent(of, k -> new ArrayList<>()).add(item);
                    if (!runRecord && (runCreated == null || item.createdAt().isBefore(runCreated))) {
                        runCreated = item.createdAt();
                    }
                } else {
                    ignored++;
                }
            }
            if (run == null || (runCreated == null && rows.isEmpty())) {
                continue;
            }
            runs++;
            if (runCreated != null) {
                index.putRun(run, runCreated);
            }
            for (Map.Entry<CheckpointId, List<StoredBlob>> e : checkpoints.entrySet()) {
                CheckpointId id = e.getKey();
                Checkpoint c = sync.rebuild(id, e.getValue(), new CheckpointSync.RowsSeen(rows.get(id.step().value()),
                        files.get(id)));
                checkpointCount++;
                if (c != null) {
                    states.merge(c.state(), 1, Integer::sum);
                }
            }
            for (IndexStore.CheckpointRow row : rows.values()) {
                CheckpointId id = CheckpointId.of(run.value(), row.summary().step());
                if (checkpoints.containsKey(id)) {
                    continue;
                }
                if (index.dropCheckpointIfUnchanged(id, row.rowEtag(),
                        files.getOrDefault(id, Map.of()).values())) {
                    dropped++;
                } else {
                    changedMeanwhile++;
                }
            }
            // Rows written by a version of the app without the latest pointer leave none, or a stale one.
            index.refreshLatest(run);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("runs", runs);
        out.put("checkpoints", checkpointCount);
        out.put("states", states);
        out.put("droppedRows", dropped);
        out.put("rowsWrittenDuringReindex", changedMeanwhile);
        out.put("ignoredBlobs", ignored);
        return out;
    }

    private Map<Long, IndexStore.CheckpointRow> rowsOf(RunId run) {
        Map<Long, IndexStore.CheckpointRow> out = new TreeMap<>();
        Long after = null;
        while (true) {
            List<IndexStore.CheckpointRow> page = index.checkpoints(run, null, after, 1000);
            page.forEach(r -> out.put(r.summary().step(), r));
            if (page.size() < 1000) {
                return out;
            }
            after = page.get(page.size() - 1).summary().step();
        }
    }
}
