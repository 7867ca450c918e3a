package dev.ckptvault.commit;

import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import java.util.List;
import java.util.Optional;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * The derived view of the container kept in Table Storage. Everything here can be rebuilt from
 * the container alone; {@link #refresh} is the one way to bring a checkpoint's rows in line with
 * storage.
 */
public interface CheckpointIndex {
    /** One checkpoint as indexed, or empty when the index has no row for it. */
    Optional<Checkpoint> get(CheckpointId id);

    /** Every indexed checkpoint of a run, newest step first (retention planning, run summaries). */
    List<Checkpoint> allOfRun(RunId run);

    /** Checkpoints not yet settled (UPLOADING, COMMITTING): what the sweep re-checks. */
    List<CheckpointId> open();

    /**
     * Re-derives one checkpoint from one listing of its prefix and rewrites its index rows.
     *
     * @return the checkpoint as now indexed; null when storage has no blob of it and the index no row
     */
    Checkpoint refresh(CheckpointId id);

    /**
     * As {@link #refresh}, and what the derivation was taken from: the listing of the prefix (every
     * blob, those outside the layout too) and the commit record.
     */
    Synced refreshListed(CheckpointId id);

    /**
     * @param checkpoint the checkpoint as now indexed (null as for {@link #refresh})
     * @param listed     every blob of the listing the checkpoint was derived from
     * @param record     the commit record, or null without one
     * @param rowEtag    the version of the checkpoint's row when the sync left it as it found it
     *                   (it already said this), else null
     */
    record Synced(Checkpoint checkpoint, List<StoredBlob> listed, CommitRecord record, String rowEtag) {
        public String leaseId() {
            return record == null ? null : record.leaseId();
        }
    }

    /**
     * Marks a step DELETING after the caller, having synced it ({@code before}), wrote its
     * tombstone; see {@link CheckpointSync#deleting}.
     */
    Checkpoint deleting(CheckpointId id, Synced before, StoredBlob tombstone);

    /**
     * Opens a step's first attempt beside the caller: writes its record ({@code open}) and indexes
     * the step as {@link #refresh} would, without listing; see {@link CheckpointSync#opened}.
     *
     * @param open   writes the attempt record (create-once); empty when another writer did
     * @param worker where this runs
     */
    void opened(CheckpointId id, java.util.function.Supplier<java.util.Optional<StoredBlob>> open,
                java.util.concurrent.Executor worker);

    /**
     * Derives one checkpoint from one listing of its prefix, as {@link #refresh} would, without
     * writing anything: what a caller that must decide from storage asks.
     */
    Checkpoint inspect(CheckpointId id);
}
