package dev.ckptvault.index;

import com.azure.core.util.Context;
import com.azure.data.tables.TableClient;
import com.azure.data.tables.models.ListEntitiesOptions;
import com.azure.data.tables.models.TableErrorCode;
import com.azure.data.tables.models.TableEntity;
import com.azure.data.tables.models.TableEntityUpdateMode;
import com.azure.data.tables.models.TableServiceException;
import com.azure.data.tables.models.TableTransactionAction;
import com.azure.data.tables.models.TableTransactionActionType;
import com.fasterxml.jackson.core.type.TypeReference;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.StorageCalls;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.Step;
import dev.ckptvault.checkpoint.StepListing;

/** Reads and writes index rows. Knows the row shapes; decides nothing about states. */
public final class IndexStore {
    /** Lists in a row hold at most this many entries... */
    static final int LIST_CAP = 200;
    /**
     * ...and at most this many characters as JSON: a string property holds at most 32,768
     * characters (64 KiB of UTF-16), and a row carries two lists and the metrics.
     */
    static final int PROPERTY_CHARS = 16_384;
    /** A RowKey (a file's path) holds at most 512 characters. */
    static final int MAX_KEY = 512;
    private static final java.util.logging.Logger LOG = java.util.logging.Logger.getLogger(IndexStore.class.getName());

    private final TableClient table;
    private final AtomicLong operations = new AtomicLong();

    public IndexStore(TableClient table) {
        this.table = table;
    }

    /** Table operations issued so far (reads, writes, queries, transactions): for measurements. */
    public long operations() {
        return operations.get();
    }

    // ---- file rows ----------------------------------------------------------------------------

    /** A file as the index last saw it; {@code sequencer} is empty for rows rebuilt from a listing. */
    public record FileRow(String path, long size, String etag, String sequencer, boolean deleted,
                          Long recordedSize, String recordedEtag, String sha256, String rowEtag,
                          String recordedVersion) {
    }

    public Optional<FileRow> file(CheckpointId id, String path) {
        return get(IndexKeys.filePartition(id), IndexKeys.fileRow(path)).map(IndexStore::toFile);
    }

    public List<FileRow> files(CheckpointId id) {
        List<FileRow> out = new ArrayList<>();
        query("PartitionKey eq " + IndexKeys.literal(IndexKeys.filePartition(id)), null)
                .forEach(e -> out.add(toFile(e)));
        return out;
    }

    /**
     * Writes what an event says of one file, only if the row is still the version read before
     * ({@code expectedRowEtag}; null = the row must not exist yet).
     *
     * @return false when another writer got there first (re-read and decide again)
     */
    public boolean putFileConditionally(CheckpointId id, String path, long size, String etag, String sequencer,
                                        boolean deleted, String expectedRowEtag) {
        TableEntity e = new TableEntity(IndexKeys.filePartition(id), IndexKeys.fileRow(path))
                .addProperty("Path", path).addProperty("Size", size).addProperty("ETag", etag == null ? "" : etag)
                .addProperty("Sequencer", sequencer).addProperty("Deleted", deleted);
        return writeIfUnchanged("write a file row", e, expectedRowEtag, TableEntityUpdateMode.MERGE);
    }

    /**
     * Creates the row ({@code expectedRowEtag} null) or updates it If-Match that version.
     *
     * @return false when another writer created, changed or removed it first
     */
    private boolean writeIfUnchanged(String what, TableEntity e, String expectedRowEtag, TableEntityUpdateMode mode) {
        return StorageCalls.call(what, () -> {
            operations.incrementAndGet();
            try {
                if (expectedRowEtag == null) {
                    table.createEntity(e);
                } else {
                    e.getProperties().put("odata.etag", expectedRowEtag);
                    table.updateEntityWithResponse(e, mode, true, null, Context.NONE);
                }
                return true;
            } catch (TableServiceException ex) {
                if (conditionFailed(ex)) {
                    return false;
                }
                throw ex;
            }
        });
    }

    /**
     * Rebuilds the file rows of a checkpoint from a listing (reindex); rows of vanished blobs are
     * marked deleted. Conditional on the rows as read before the listing was made ({@code seen},
     * by path): a row that an event wrote or created since then is newer than the listing, so the
     * rebuild stops and answers false (re-read, list again). Rows whose content already matches
     * are left alone, which keeps the sequencer of the event that wrote them.
     */
    public boolean replaceFiles(CheckpointId id, StepListing listing, CommitRecord record, Map<String, FileRow> seen) {
        String pk = IndexKeys.filePartition(id);
        Map<String, CommitRecord.File> recorded = new HashMap<>();
        if (record != null) {
            record.files().forEach(f -> recorded.put(f.path(), f));
        }
        Map<String, TableEntity> wanted = new java.util.TreeMap<>();
        listing.files().forEach((path, b) -> wanted.put(path,
                fileEntity(pk, path, b.size(), b.etag(), false, recorded.get(path))));
        recorded.forEach((path, f) -> wanted.computeIfAbsent(path, p -> fileEntity(pk, p, 0L, "", true, f)));
        seen.forEach((path, old) -> wanted.computeIfAbsent(path, p -> fileEntity(pk, p, 0L, "", true, null)));
        // A path too long to key a row gets none rather than failing the whole write.
        wanted.keySet().removeIf(path -> !keyable(path));
        List<TableTransactionAction> actions = new ArrayList<>();
        wanted.forEach((path, e) -> {
            FileRow old = seen.get(path);
            if (old == null) {
                actions.add(new TableTransactionAction(TableTransactionActionType.CREATE, e));
            } else if (!sameContent(old, toFile(e))) {
                e.getProperties().put("odata.etag", old.rowEtag());
                actions.add(new TableTransactionAction(TableTransactionActionType.UPDATE_REPLACE, e, true));
            }
        });
        return transactIfUnchanged(actions);
    }

    /** @param recorded the commit record's entry for this path, or null */
    private static TableEntity fileEntity(String pk, String path, long size, String etag, boolean deleted,
                                          CommitRecord.File recorded) {
        TableEntity e = new TableEntity(pk, IndexKeys.fileRow(path)).addProperty("Path", path).addProperty("Size", size)
                .addProperty("ETag", etag).addProperty("Sequencer", "").addProperty("Deleted", deleted);
        addRecorded(e, recorded);
        return e;
    }

    private static boolean sameContent(FileRow a, FileRow b) {
        return a.size() == b.size() && Objects.equals(a.etag(), b.etag()) && a.deleted() == b.deleted()
                && Objects.equals(a.recordedSize(), b.recordedSize()) && Objects.equals(a.recordedEtag(), b.recordedEtag())
                && Objects.equals(a.sha256(), b.sha256()) && Objects.equals(a.recordedVersion(), b.recordedVersion());
    }

    /** @return false when a condition failed (a row changed or appeared meanwhile) */
    private boolean transactIfUnchanged(List<TableTransactionAction> actions) {
        try {
            transact(actions);
            return true;
        } catch (TableServiceException e) {
            if (conditionFailed(e)) {
                return false;
            }
            throw e;
        }
    }

    /**
     * A failed condition: the row was changed, created or removed by another writer. A failed
     * transaction carries the failed action's error code; the HTTP status is the batch's own.
     */
    private static boolean conditionFailed(TableServiceException e) {
        int status = StorageCalls.status(e);
        if (status == 412 || status == 409 || status == 404) {
            return true;
        }
        TableErrorCode code = e.getValue() == null ? null : e.getValue().getErrorCode();
        return TableErrorCode.UPDATE_CONDITION_NOT_SATISFIED.equals(code)
                || TableErrorCode.ENTITY_ALREADY_EXISTS.equals(code) || TableErrorCode.ENTITY_NOT_FOUND.equals(code)
                || TableErrorCode.RESOURCE_NOT_FOUND.equals(code);
    }

    /** Every file row of a run, by checkpoint and path: one range query over the run's file partitions. */
    public Map<CheckpointId, Map<String, FileRow>> filesOfRun(RunId run) {
        // File partitions are "{runId}:{step}"; ';' follows ':' and run ids contain neither.
        String from = IndexKeys.literal(run.value() + ":");
        String to = IndexKeys.literal(run.value() + ";");
        Map<CheckpointId, Map<String, FileRow>> out = new java.util.TreeMap<>();
        for (TableEntity e : query("PartitionKey ge " + from + " and PartitionKey lt " + to, null)) {
            String pk = e.getPartitionKey();
            CheckpointId id = new CheckpointId(run, Step.of(Long.parseLong(pk.substring(pk.indexOf(':') + 1))));
            FileRow row = toFile(e);
            out.computeIfAbsent(id, k -> new java.util.TreeMap<>()).put(row.path(), row);
        }
        return out;
    }

    /** Adds the commit record's view (size, eTag, sha256) to every recorded file's row. */
    public void markRecorded(CheckpointId id, CommitRecord record) {
        String pk = IndexKeys.filePartition(id);
        List<TableTransactionAction> actions = new ArrayList<>();
        for (CommitRecord.File f : record.files()) {
            if (!keyable(f.path())) {
                continue;
            }
            TableEntity e = new TableEntity(pk, IndexKeys.fileRow(f.path())).addProperty("Path", f.path());
            addRecorded(e, f);
            actions.add(new TableTransactionAction(TableTransactionActionType.UPSERT_MERGE, e));
        }
        transact(actions);
    }

    private static void addRecorded(TableEntity e, CommitRecord.File f) {
        if (f == null) {
            return;
        }
        e.addProperty("RecSize", f.size()).addProperty("RecETag", f.etag());
        if (f.sha256() != null) {
            e.addProperty("Sha256", f.sha256());
        }
        if (f.versionId() != null) {
            e.addProperty("RecVersion", f.versionId());
        }
    }

    private void transact(List<TableTransactionAction> actions) {
        // A transaction holds at most 100 operations on one partition.
        for (int i = 0; i < actions.size(); i += 100) {
            List<TableTransactionAction> chunk = actions.subList(i, Math.min(actions.size(), i + 100));
            StorageCalls.run("write index rows", () -> {
                operations.incrementAndGet();
                table.submitTransaction(chunk);
            });
        }
    }

    private static FileRow toFile(TableEntity e) {
        Map<String, Object> p = e.getProperties();
        return new FileRow(str(p.get("Path")), num(p.get("Size")), str(p.get("ETag")), str(p.get("Sequencer")),
                Boolean.TRUE.equals(p.get("Deleted")),
                p.get("RecSize") == null ? null : num(p.get("RecSize")), (String) p.get("RecETag"),
                (String) p.get("Sha256"), e.getETag(), (String) p.get("RecVersion"));
    }

    /**
     * Whether a path can key a file row. The API refuses longer paths; a blob written out of band
     * (or before that rule) gets no row rather than failing the whole index write, and such a
     * blob is outside the layout, so a commit record naming it never reads as intact.
     */
    private static boolean keyable(String path) {
        if (path.length() <= MAX_KEY) {
            return true;
        }
        LOG.warning("no index row for a path of " + path.length() + " characters (at most " + MAX_KEY + ")");
        return false;
    }

    // ---- checkpoint rows ----------------------------------------------------------------------

    /**
     * The indexed summary of a checkpoint: everything but its file list.
     *
     * @param rowEtag the row version read, for a conditional write or delete
     */
    public record CheckpointRow(Checkpoint summary, int fileCount, String rowEtag) {
    }

    public Optional<CheckpointRow> checkpoint(CheckpointId id) {
        return get(id.run().value(), IndexKeys.checkpointRow(id.step().value())).map(IndexStore::toCheckpoint);
    }

    /**
     * Writes a checkpoint's row only if it is still the version {@code seen} read before the
     * listing it was derived from (null: no row at all). Every writer reads the row before it
     * lists, so a write that succeeds carries a listing made after every write before it: an older
     * view never replaces a newer one. When the write makes the step COMMITTED, takes it out of
     * COMMITTED or changes a COMMITTED row, the run's latest pointer changes in the same
     * transaction ({@link #latest}).
     *
     * @param record the commit record of {@code c}, or null: a COMMITTED checkpoint that becomes
     *               latest carries its files in the pointer
     * @return false when another writer got there first (re-read, list again, or accept theirs)
     */
    public boolean putCheckpoint(Checkpoint c, CheckpointRow seen, CommitRecord record) {
        String expectedRowEtag = seen == null ? null : seen.rowEtag();
        boolean wasCommitted = seen != null && seen.summary().state() == CheckpointState.COMMITTED;
        boolean committed = c.state() == CheckpointState.COMMITTED;
        TableEntity e = checkpointEntity(c);
        // Rewriting a COMMITTED row with what it already says changes neither which step is latest nor
        // what the pointer shows of it: no pointer read, the common case of late events.
        if ((!committed && !wasCommitted) || (committed && wasCommitted && sameRow(c, seen))) {
            return writeIfUnchanged("write a checkpoint row", e, expectedRowEtag, TableEntityUpdateMode.REPLACE);
        }
        TableTransactionAction row;
        if (expectedRowEtag == null) {
            row = new TableTransactionAction(TableTransactionActionType.CREATE, e);
        } else {
            e.getProperties().put("odata.etag", expectedRowEtag);
            row = new TableTransactionAction(TableTransactionActionType.UPDATE_REPLACE, e, true);
        }
        return writeWithPointer(new RunId(c.runId()), c.step(), row, expectedRowEtag, c, record);
    }

    private static TableEntity checkpointEntity(Checkpoint c) {
        return checkpointEntity(c, IndexKeys.checkpointRow(c.step()));
    }

    /** A checkpoint's row content under {@code rowKey}: its own row, or the run's latest pointer. */
    private static TableEntity checkpointEntity(Checkpoint c, String rowKey) {
        TableEntity e = new TableEntity(c.runId(), rowKey)
                .addProperty("Step", c.step()).addProperty("State", c.state().name()).addProperty("Tier", c.tier())
                .addProperty("Bytes", c.bytes()).addProperty("FileCount", c.files().size())
                .addProperty("Metrics", Json.write(fitting(c.metrics()))).addProperty("Pinned", c.pinned())
                .addProperty("Missing", Json.write(cap(c.missing()))).addProperty("MissingCount", c.missing().size())
                .addProperty("Extra", Json.write(cap(c.extra()))).addProperty("ExtraCount", c.extra().size())
                .addProperty("CreatedAt", time(c.createdAt()))
                .addProperty("LastActivityAt", time(c.lastActivityAt()));
        if (c.committedAt() != null) {
            e.addProperty("CommittedAt", time(c.committedAt()));
        }
        return e;
    }

    /**
     * Whether a stored row already says what writing {@code c} would say (times to the
     * millisecond: the table keeps less precision than an Instant).
     */
    public static boolean sameRow(Checkpoint c, CheckpointRow row) {
        Checkpoint r = row.summary();
        return c.state() == r.state() && c.tier().equals(r.tier()) && c.bytes() == r.bytes()
                && c.files().size() == row.fileCount() && c.metrics().equals(r.metrics()) && c.pinned() == r.pinned()
                && cap(c.missing()).equals(r.missing()) && cap(c.extra()).equals(r.extra())
                && sameMillis(c.createdAt(), r.createdAt()) && sameMillis(c.committedAt(), r.committedAt())
                && sameMillis(c.lastActivityAt(), r.lastActivityAt());
    }

    private static boolean sameMillis(Instant a, Instant b) {
        Instant x = a == null ? Instant.EPOCH : a;
        Instant y = b == null ? Instant.EPOCH : b;
        return x.toEpochMilli() == y.toEpochMilli();
    }

    /** A page of a run's checkpoints, newest first, starting below {@code afterStep} when given. */
    public List<CheckpointRow> checkpoints(RunId run, String state, Long afterStep, int limit) {
        StringBuilder f = new StringBuilder("PartitionKey eq ").append(IndexKeys.literal(run.value()))
                .append(" and RowKey le ").append(IndexKeys.literal(IndexKeys.LAST_CHECKPOINT_ROW));
        if (afterStep != null) {
            f.append(" and RowKey gt ").append(IndexKeys.literal(IndexKeys.checkpointRow(afterStep)));
        }
        if (state != null) {
            f.append(" and State eq ").append(IndexKeys.literal(state));
        }
        List<CheckpointRow> out = new ArrayList<>();
        for (TableEntity e : query(f.toString(), limit)) {
            out.add(toCheckpoint(e));
            if (out.size() >= limit) {
                break;
            }
        }
        return out;
    }

    private static CheckpointRow toCheckpoint(TableEntity e) {
        Map<String, Object> p = e.getProperties();
        Checkpoint c = new Checkpoint(e.getPartitionKey(), num(p.get("Step")),
                CheckpointState.valueOf(str(p.get("State"))), str(p.get("Tier")), List.of(),
                Json.MAPPER.convertValue(Json.parse(str(p.get("Missing")), "row"), new TypeReference<List<String>>() { }),
                Json.MAPPER.convertValue(Json.parse(str(p.get("Extra")), "row"), new TypeReference<List<String>>() { }),
                num(p.get("Bytes")),
                Json.MAPPER.convertValue(Json.parse(str(p.get("Metrics")), "row"),
                        new TypeReference<Map<String, Double>>() { }),
                Boolean.TRUE.equals(p.get("Pinned")), instant(p.get("CreatedAt")), instant(p.get("CommittedAt")),
                instant(p.get("LastActivityAt")));
        return new CheckpointRow(c, (int) num(p.get("FileCount")), e.getETag());
    }

    /** Removes every row of a checkpoint, whatever wrote them last (tests and operators). */
    public void dropCheckpoint(CheckpointId id) {
        List<TableTransactionAction> actions = new ArrayList<>();
        query("PartitionKey eq " + IndexKeys.literal(IndexKeys.filePartition(id)), null).forEach(e ->
                actions.add(new TableTransactionAction(TableTransactionActionType.DELETE, e)));
        transact(actions);
        setOpen(id, false);
        // Whatever wrote the row last: delete the version read, and read again if it changed meanwhile.
        for (int attempt = 0; attempt < POINTER_ATTEMPTS; attempt++) {
            Optional<CheckpointRow> row = checkpoint(id);
            if (row.isEmpty() || deleteRow(id, row.get().rowEtag())) {
                return;
            }
        }
        throw new StorageUnavailableException("the row of " + id + " kept changing while it was dropped", null);
    }

    /** Deletes a checkpoint row if it is still {@code rowEtag}, and keeps the latest pointer with it. */
    private boolean deleteRow(CheckpointId id, String rowEtag) {
        TableEntity e = new TableEntity(id.run().value(), IndexKeys.checkpointRow(id.step().value()));
        e.getProperties().put("odata.etag", rowEtag);
        return writeWithPointer(id.run(), id.step().value(),
                new TableTransactionAction(TableTransactionActionType.DELETE, e, true), rowEtag, null, null);
    }

    /**
     * Removes the rows of a checkpoint that no longer has any blob, only as far as they are the
     * versions read before the listing that found no blob: a row written or created since then
     * belongs to a checkpoint younger than that listing and stays.
     *
     * @param rowEtag   the checkpoint row's version as read before the listing
     * @param filesSeen its file rows as read before the listing
     * @return false when the checkpoint row changed meanwhile (nothing was removed)
     */
    public boolean dropCheckpointIfUnchanged(CheckpointId id, String rowEtag, java.util.Collection<FileRow> filesSeen) {
        if (!deleteRow(id, rowEtag)) {
            return false;
        }
        for (FileRow f : filesSeen) {
            StorageCalls.run("drop a file row", () -> {
                operations.incrementAndGet();
                try {
                    table.deleteEntityWithResponse(new TableEntity(IndexKeys.filePartition(id), IndexKeys.fileRow(f.path()))
                            .addProperty("odata.etag", f.rowEtag()), true, null, Context.NONE);
                } catch (TableServiceException e) {
                    int s = StorageCalls.status(e);
                    if (s != 412 && s != 404) {
                        throw e;
                    }
                }
            });
        }
        setOpen(id, false);
        // A sync that wrote the row after the delete above may have set the open row before this
        // call cleared it: its row, written first, says what the open row must be.
        checkpoint(id).ifPresent(row -> setOpen(id, row.summary().state() == CheckpointState.UPLOADING
                || row.summary().state() == CheckpointState.COMMITTING));
        return true;
    }

    // ---- the latest pointer ---------------------------------------------------------------------

    /*
     * One row per run (partition {runId}, RowKey "latest") names the highest COMMITTED step and
     * holds that checkpoint's row and, when they fit, its files, so GET latest is one point read.
     *
     * It is kept exact by one rule: every write that can change which steps are COMMITTED (a row
     * that becomes COMMITTED, leaves COMMITTED, or whose COMMITTED content changes; a row removed)
     * goes in one entity group transaction with a conditional write of the pointer, on the pointer
     * version read before that write was computed. So two such writes cannot both succeed on one
     * pointer version: the loser re-reads the pointer and computes again. When the latest step
     * leaves COMMITTED the next one is found by a query made after the pointer was read; any
     * change to the COMMITTED set after that read would have changed the pointer and failed this
     * transaction, so what the query saw is what holds when the transaction lands. The pointer
     * therefore equals the highest COMMITTED row at every moment, also across app instances,
     * crashes (one transaction) and retries. A run whose rows predate the pointer has none: latest
     * falls back to a query, and the first write that needs the pointer creates it from one.
     */

    /** Pointer rows carry at most this many chunks of gzipped file list, each below the 64 KiB binary property limit. */
    static final int FILE_CHUNK_BYTES = 60_000;
    static final int MAX_FILE_CHUNKS = 10;
    private static final int POINTER_ATTEMPTS = 16;

    /**
     * What the pointer says.
     *
     * @param checkpoint  the newest COMMITTED checkpoint with its recorded files when {@code filesInline},
     *                    or null when the run has no committed checkpoint
     * @param filesInline false when the file list was too large for the row: read the file rows
     */
    public record Latest(Checkpoint checkpoint, boolean filesInline) {
    }

    /** The run's latest pointer (one point read), or empty when the run has none (yet). */
    public Optional<Latest> latest(RunId run) {
        return get(run.value(), IndexKeys.LATEST).map(IndexStore::toLatest);
    }

    /**
     * Writes the pointer again from a query of the rows, conditional on the version read first
     * (reindex does this per run: it also repairs a pointer that a version of the app without
     * pointers left behind).
     */
    public void refreshLatest(RunId run) {
        for (int attempt = 0; attempt < POINTER_ATTEMPTS; attempt++) {
            Optional<TableEntity> pointer = get(run.value(), IndexKeys.LATEST);
            TableEntity target = pointerFor(run, highestCommitted(run, null));
            if (writeIfUnchanged("write the latest pointer", target, pointer.map(TableEntity::getETag).orElse(null),
                    TableEntityUpdateMode.REPLACE)) {
                return;
            }
        }
        throw new StorageUnavailableException("the latest pointer of run " + run + " kept changing", null);
    }

    /**
     * Applies {@code row} (a write or delete of step {@code step}'s row, conditional on
     * {@code expectedRowEtag}) together with the pointer change it implies, in one transaction.
     *
     * @param next what the row says after the write, null when it is removed
     * @return false when the row was not the version expected (the caller re-reads); a pointer that
     *         changed meanwhile is read again here
     */
    private boolean writeWithPointer(RunId run, long step, TableTransactionAction row, String expectedRowEtag,
                                     Checkpoint next, CommitRecord record) {
        for (int attempt = 0; attempt < POINTER_ATTEMPTS; attempt++) {
            Optional<TableEntity> pointer = get(run.value(), IndexKeys.LATEST);
            TableTransactionAction change = pointerChange(run, step, next, record, pointer);
            List<TableTransactionAction> actions = change == null ? List.of(row) : List.of(row, change);
            if (transactIfUnchanged(actions)) {
                return true;
            }
            // The row or the pointer changed. Only the row is the caller's business.
            Optional<CheckpointRow> now = checkpoint(new CheckpointId(run, Step.of(step)));
            boolean rowAsExpected = expectedRowEtag == null ? now.isEmpty()
                    : now.isPresent() && expectedRowEtag.equals(now.get().rowEtag());
            if (!rowAsExpected) {
                return false;
            }
        }
        throw new StorageUnavailableException("the latest pointer of run " + run + " kept changing while step "
                + step + " was written; a later sync brings it in line", null);
    }

    /**
     * The pointer write that goes with step {@code step} becoming {@code next}: conditional on the
     * version read (or create-only when there is none), so it fails if the COMMITTED set changed
     * since; null when the pointer neither moves nor needs to guard anything.
     */
    private TableTransactionAction pointerChange(RunId run, long step, Checkpoint next, CommitRecord record,
                                                 Optional<TableEntity> pointer) {
        boolean committed = next != null && next.state() == CheckpointState.COMMITTED;
        if (pointer.isEmpty()) {
            // No pointer yet: the rows say which step is latest, apart from the one being written.
            CheckpointRow other = highestCommitted(run, step).orElse(null);
            TableEntity target = committed && (other == null || step >= other.summary().step())
                    ? pointerEntity(next, recordedFiles(record)) : pointerFor(run, Optional.ofNullable(other));
            return new TableTransactionAction(TableTransactionActionType.CREATE, target);
        }
        // Only the step it names: its packed file list is not unpacked for a write.
        long named = num(pointer.get().getProperties().get(POINTER_STEP));
        Long latest = named < 0 ? null : named;
        TableEntity target;
        if (committed && latest != null && step == latest) {
            // Same step, new content (a pin, the tier): the summary changes, the recorded files do not.
            target = checkpointEntity(next, IndexKeys.LATEST);
            target.addProperty(POINTER_STEP, step);
            return conditional(TableTransactionActionType.UPDATE_MERGE, target, pointer.get());
        }
        if (committed && (latest == null || step > latest)) {
            target = pointerEntity(next, recordedFiles(record));
        } else if (!committed && latest != null && step == latest) {
            target = pointerFor(run, highestCommitted(run, step));
        } else {
            // The latest step stays; this write still guards against a concurrent recomputation that
            // did not see it.
            target = new TableEntity(run.value(), IndexKeys.LATEST).addProperty("Guard", System.nanoTime());
            return conditional(TableTransactionActionType.UPDATE_MERGE, target, pointer.get());
        }
        return conditional(TableTransactionActionType.UPDATE_REPLACE, target, pointer.get());
    }

    private static TableTransactionAction conditional(TableTransactionActionType type, TableEntity target,
                                                      TableEntity read) {
        target.getProperties().put("odata.etag", read.getETag());
        return new TableTransactionAction(type, target, true);
    }

    /** The COMMITTED row with the highest step, apart from {@code except}: one query, newest rows first. */
    private Optional<CheckpointRow> highestCommitted(RunId run, Long except) {
        for (CheckpointRow r : checkpoints(run, CheckpointState.COMMITTED.name(), null, except == null ? 1 : 2)) {
            if (except == null || r.summary().step() != except) {
                return Optional.of(r);
            }
        }
        return Optional.empty();
    }

    /** The pointer naming {@code row} (its files from the file rows' recorded view), or saying none. */
    private TableEntity pointerFor(RunId run, Optional<CheckpointRow> row) {
        if (row.isEmpty()) {
            return new TableEntity(run.value(), IndexKeys.LATEST).addProperty(POINTER_STEP, -1L);
        }
        Checkpoint c = row.get().summary();
        return pointerEntity(c, recorded(files(new CheckpointId(run, Step.of(c.step())))));
    }

    private static final String POINTER_STEP = "LatestStep";

    private static TableEntity pointerEntity(Checkpoint c, List<FileEntry> files) {
        TableEntity e = checkpointEntity(c, IndexKeys.LATEST);
        e.addProperty(POINTER_STEP, c.step());
        byte[] packed = packFiles(files);
        int chunks = (packed.length + FILE_CHUNK_BYTES - 1) / FILE_CHUNK_BYTES;
        boolean inline = chunks <= MAX_FILE_CHUNKS;
        e.addProperty("FilesInline", inline);
        if (inline) {
            e.addProperty("FileChunks", chunks);
            for (int i = 0; i < chunks; i++) {
                e.addProperty("Files" + i, java.util.Arrays.copyOfRange(packed, i * FILE_CHUNK_BYTES,
                        Math.min(packed.length, (i + 1) * FILE_CHUNK_BYTES)));
            }
        }
        return e;
    }

    private static Latest toLatest(TableEntity e) {
        Map<String, Object> p = e.getProperties();
        long step = num(p.get(POINTER_STEP));
        if (step < 0) {
            return new Latest(null, true);
        }
        Checkpoint summary = toCheckpoint(e).summary();
        boolean inline = Boolean.TRUE.equals(p.get("FilesInline"));
        List<FileEntry> files = List.of();
        if (inline) {
            int chunks = (int) num(p.get("FileChunks"));
            java.io.ByteArrayOutputStream packed = new java.io.ByteArrayOutputStream();
            for (int i = 0; i < chunks; i++) {
                packed.writeBytes((byte[]) p.get("Files" + i));
            }
            files = unpackFiles(packed.toByteArray());
        }
        return new Latest(new Checkpoint(summary.runId(), step, summary.state(), summary.tier(), files,
                summary.missing(), summary.extra(), summary.bytes(), summary.metrics(), summary.pinned(),
                summary.createdAt(), summary.committedAt(), summary.lastActivityAt()), inline);
    }

    /**
     * A committed checkpoint's files as its file rows show them: the commit record's view of every
     * file the record lists, in row order (what {@code GET checkpoints/{step}} lists).
     */
    public static List<FileEntry> recorded(List<FileRow> rows) {
        List<FileEntry> out = new ArrayList<>();
        for (FileRow r : rows) {
            if (r.recordedEtag() != null) {
                out.add(new FileEntry(r.path(), r.recordedSize(), r.recordedEtag(), r.sha256(), null,
                        r.recordedVersion()));
            }
        }
        return out;
    }

    /** The record's files in the order and shape the file rows would give them ({@link #recorded}). */
    private static List<FileEntry> recordedFiles(CommitRecord record) {
        if (record == null) {
            return List.of();
        }
        java.util.TreeMap<String, FileEntry> byRow = new java.util.TreeMap<>();
        for (CommitRecord.File f : record.files()) {
            if (keyable(f.path())) {
                byRow.put(IndexKeys.fileRow(f.path()), new FileEntry(f.path(), f.size(), f.etag(), f.sha256(), null,
                        f.versionId()));
            }
        }
        return List.copyOf(byRow.values());
    }

    /** [[path, size, etag, sha256, versionId], ...] as JSON, gzipped: paths and hex digests pack well. */
    static byte[] packFiles(List<FileEntry> files) {
        List<List<Object>> rows = new ArrayList<>(files.size());
        for (FileEntry f : files) {
            rows.add(java.util.Arrays.asList(f.path(), f.size(), f.etag(), f.sha256(), f.versionId()));
        }
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (java.util.zip.GZIPOutputStream gz = new java.util.zip.GZIPOutputStream(out)) {
            gz.write(Json.bytes(rows));
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static List<FileEntry> unpackFiles(byte[] packed) {
        if (packed.length == 0) {
            return List.of();
        }
        try (java.util.zip.GZIPInputStream gz = new java.util.zip.GZIPInputStream(new java.io.ByteArrayInputStream(packed))) {
            com.fasterxml.jackson.databind.JsonNode rows = Json.MAPPER.readTree(gz);
            List<FileEntry> out = new ArrayList<>(rows.size());
            for (com.fasterxml.jackson.databind.JsonNode r : rows) {
                out.add(new FileEntry(r.get(0).asText(), r.get(1).asLong(), r.get(2).asText(),
                        r.get(3).isNull() ? null : r.get(3).asText(), null, r.get(4).isNull() ? null : r.get(4).asText()));
            }
            return out;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // ---- open checkpoints and runs -------------------------------------------------------------

    public void setOpen(CheckpointId id, boolean open) {
        StorageCalls.run("update the open set", () -> {
            operations.incrementAndGet();
            if (open) {
                table.upsertEntity(new TableEntity(IndexKeys.OPEN, IndexKeys.openRow(id))
                        .addProperty("RunId", id.run().value()).addProperty("Step", id.step().value()));
            } else {
                try {
                    table.deleteEntity(IndexKeys.OPEN, IndexKeys.openRow(id));
                } catch (TableServiceException e) {
                    if (StorageCalls.status(e) != 404) {
                        throw e;
                    }
                }
            }
        });
    }

    public List<CheckpointId> open() {
        List<CheckpointId> out = new ArrayList<>();
        query("PartitionKey eq " + IndexKeys.literal(IndexKeys.OPEN), null).forEach(e -> out.add(
                new CheckpointId(new RunId(str(e.getProperties().get("RunId"))),
                        dev.ckptvault.layout.Step.of(num(e.getProperties().get("Step"))))));
        return out;
    }

    /**
     * Checkpoints committed at or after {@code since}, across runs: one query of the run list and
     * one per run (within its partition). The local blob event watcher keeps watching these,
     * since write URLs issued before their commit may still be alive.
     */
    public List<CheckpointId> committedSince(Instant since) {
        List<CheckpointId> out = new ArrayList<>();
        String after = "datetime'" + since.truncatedTo(java.time.temporal.ChronoUnit.SECONDS) + "'";
        for (TableEntity r : query("PartitionKey eq " + IndexKeys.literal(IndexKeys.RUNS), null)) {
            RunId run = new RunId(r.getRowKey());
            for (TableEntity e : query("PartitionKey eq " + IndexKeys.literal(run.value()) + " and RowKey le "
                    + IndexKeys.literal(IndexKeys.LAST_CHECKPOINT_ROW) + " and CommittedAt ge " + after, null)) {
                out.add(new CheckpointId(run, Step.of(num(e.getProperties().get("Step")))));
            }
        }
        return out;
    }

    public void putRun(RunId run, Instant createdAt) {
        StorageCalls.run("write a run row", () -> {
            operations.incrementAndGet();
            table.upsertEntityWithResponse(new TableEntity(IndexKeys.RUNS, run.value())
                    .addProperty("CreatedAt", time(createdAt)), TableEntityUpdateMode.MERGE, null, Context.NONE);
        });
    }

    public record RunRow(RunId run, Instant createdAt) {
    }

    public Optional<RunRow> run(RunId run) {
        return get(IndexKeys.RUNS, run.value())
                .map(e -> new RunRow(run, instant(e.getProperties().get("CreatedAt"))));
    }

    public List<RunRow> runs(String afterRunId, int limit) {
        String f = "PartitionKey eq " + IndexKeys.literal(IndexKeys.RUNS)
                + (afterRunId == null ? "" : " and RowKey gt " + IndexKeys.literal(afterRunId));
        List<RunRow> out = new ArrayList<>();
        for (TableEntity e : query(f, limit)) {
            out.add(new RunRow(new RunId(e.getRowKey()), instant(e.getProperties().get("CreatedAt"))));
            if (out.size() >= limit) {
                break;
            }
        }
        return out;
    }

    /** Reachability probe for health: one cheap query that needs the table to exist. */
    public void probe() {
        query("PartitionKey eq " + IndexKeys.literal(IndexKeys.OPEN), 1);
    }

    // ---- plumbing -----------------------------------------------------------------------------

    private Optional<TableEntity> get(String pk, String rk) {
        return StorageCalls.call("read an index row", () -> {
            operations.incrementAndGet();
            try {
                return Optional.of(table.getEntity(pk, rk));
            } catch (TableServiceException e) {
                if (StorageCalls.status(e) == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    private Iterable<TableEntity> query(String filter, Integer top) {
        return StorageCalls.call("query the index", () -> {
            operations.incrementAndGet();
            ListEntitiesOptions o = new ListEntitiesOptions().setFilter(filter);
            if (top != null) {
                o.setTop(Math.min(top, 1000));
            }
            List<TableEntity> out = new ArrayList<>();
            for (TableEntity e : table.listEntities(o, null, Context.NONE)) {
                out.add(e);
                if (top != null && out.size() >= top) {
                    break;
                }
            }
            return out;
        });
    }

    /** The longest prefix of the list within {@link #LIST_CAP} entries and {@link #PROPERTY_CHARS} as JSON. */
    static List<String> cap(List<String> list) {
        int chars = 2;
        int n = 0;
        for (String s : list) {
            // A JSON string of layout paths is the path plus quotes and a comma (no escapes needed).
            int add = s.length() + 3;
            if (n >= LIST_CAP || chars + add > PROPERTY_CHARS) {
                break;
            }
            chars += add;
            n++;
        }
        return list.subList(0, n);
    }

    /**
     * The metrics as stored: whole while they fit one property (the API keeps them far below);
     * otherwise (a record from before that limit) the entries in name order that fit. A metric
     * left out is one retention treats as missing: a keepBest rule then keeps the checkpoint.
     */
    static Map<String, Double> fitting(Map<String, Double> metrics) {
        if (Json.write(metrics).length() <= PROPERTY_CHARS) {
            return metrics;
        }
        Map<String, Double> out = new java.util.TreeMap<>();
        for (Map.Entry<String, Double> e : new java.util.TreeMap<>(metrics).entrySet()) {
            out.put(e.getKey(), e.getValue());
            if (Json.write(out).length() > PROPERTY_CHARS) {
                out.remove(e.getKey());
                break;
            }
        }
        LOG.warning("metrics of " + metrics.size() + " entries do not fit an index property; " + out.size() + " kept");
        return out;
    }

    private static OffsetDateTime time(Instant i) {
        return (i == null ? Instant.EPOCH : i).atOffset(ZoneOffset.UTC);
    }

    private static Instant instant(Object o) {
        if (o == null) {
            return null;
        }
        if (o instanceof OffsetDateTime t) {
            return t.toInstant();
        }
        return OffsetDateTime.parse(o.toString()).toInstant();
    }

    private static long num(Object o) {
        return o == null ? 0 : ((Number) o).longValue();
    }

    private static String str(Object o) {
        return o == null ? "" : o.toString();
    }
}
