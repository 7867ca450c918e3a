package dev.ckptvault.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.data.tables.models.ListEntitiesOptions;
import com.azure.data.tables.models.TableEntity;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.lifecycle.RetentionEnforcer;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The run's latest pointer row equals the highest COMMITTED checkpoint row at every moment: with
 * several app instances writing rows at once (commits, tampering, deletion, pins, rows dropped),
 * and through the whole app (commit, tamper, delete, an index without a pointer, reindex).
 *
 * <p>"At every moment" is checked with single queries of the run's partition taken while the
 * writers run: one query answer holds the pointer and every checkpoint row as of one instant on
 * Azurite, which serves one request at a time and applies an entity group transaction without
 * interleaving another request (as Azure applies it atomically).
 */
class LatestPointerTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static final int INSTANCES = 3;
    static final List<TestApp> apps = new ArrayList<>();

    @BeforeAll
    static void instances() {
        for (int i = 0; i < INSTANCES; i++) {
            apps.add(AZURITE.app());
        }
    }

    @AfterAll
    static void close() {
        apps.forEach(TestApp::close);
    }

    @Test
    void racingRowWritesOfSeveralInstancesNeverLeaveThePointerOffTheHighestCommittedRow() throws Exception {
        long seed = Long.getLong("ckptvault.pointer.seed", System.nanoTime());
        System.out.println("LatestPointerTest seed " + seed);
        RunId run = new RunId("race-" + Long.toHexString(seed & 0xffffff));
        int steps = 8;
        int writesPerWorker = Integer.getInteger("ckptvault.pointer.writes", 60);
        AtomicBoolean done = new AtomicBoolean();
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger landed = new AtomicInteger();
        AtomicInteger snapshots = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(INSTANCES * 2 + 1);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int w = 0; w < INSTANCES * 2; w++) {
                IndexStore index = apps.get(w % INSTANCES).index;
                Random random = new Random(seed + w);
                workers.add(pool.submit(() -> {
                    for (int i = 0; i < writesPerWorker; i++) {
                        if (randomWrite(index, run, 1 + random.nextInt(steps), random)) {
                            landed.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            Future<?> checker = pool.submit(() -> {
                while (!done.get()) {
                    check(apps.get(0), run, problems);
                    snapshots.incrementAndGet();
                }
                return null;
            });
            for (Future<?> f : workers) {
                f.get(5, TimeUnit.MINUTES);
            }
            done.set(true);
            checker.get(1, TimeUnit.MINUTES);
        } finally {
            pool.shutdownNow();
        }
        check(apps.get(0), run, problems);
        assertTrue(problems.isEmpty(), "seed " + seed + ": " + problems.subList(0, Math.min(10, problems.size())));
        assertTrue(landed.get() > writesPerWorker, "too few writes landed to race: " + landed.get());
        assertTrue(snapshots.get() > 3, "too few snapshots taken: " + snapshots.get());
    }

    /** Reads one step's row and writes a random next version of it, conditionally, as a sync would. */
    private static boolean randomWrite(IndexStore index, RunId run, long step, Random random) {
        CheckpointId id = new CheckpointId(run, dev.ckptvault.layout.Step.of(step));
        Optional<IndexStore.CheckpointRow> seen = index.checkpoint(id);
        int pick = random.nextInt(10);
        if (pick == 0 && seen.isPresent()) {
            return index.dropCheckpointIfUnchanged(id, seen.get().rowEtag(), List.of());
        }
        CheckpointState state = switch (pick) {
            case 1, 2, 3, 4 -> CheckpointState.COMMITTED;
            case 5 -> CheckpointState.TAMPERED;
            case 6 -> CheckpointState.DELETING;
            case 7 -> CheckpointState.DELETED;
            default -> CheckpointState.UPLOADING;
        };
        boolean pinned = random.nextBoolean();
        Instant t = Instant.ofEpochSecond(1_700_000_000L + step);
        Checkpoint c = new Checkpoint(run.value(), step, state, "hot", List.of(), List.of(), List.of(), 10 * step,
                Map.of(), pinned, t, state == CheckpointState.UPLOADING ? null : t, t);
        return index.putCheckpoint(c, seen.orElse(null), record(run, step));
    }

    /** A small commit record per step whose files say which step they belong to. */
    private static CommitRecord record(RunId run, long step) {
        List<CommitRecord.File> files = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            files.add(new CommitRecord.File("rank-" + i + "/s" + step + ".bin", step * 10 + i, "\"0x" + step + i + "\"",
                    Instant.EPOCH, i == 0 ? null : "ab".repeat(32), null));
        }
        return new CommitRecord(run.value(), step, Instant.EPOCH, "lease", files, Map.of(), Map.of(), "record-" + step);
    }

    /** One query of the partition: the pointer against the rows of the same instant. */
    private static void check(TestApp app, RunId run, List<String> problems) {
        TreeMap<Long, TableEntity> rows = new TreeMap<>();
        TableEntity pointer = null;
        for (TableEntity e : app.storage.indexTable().listEntities(new ListEntitiesOptions()
                .setFilter("PartitionKey eq '" + run.value() + "'"), null, null)) {
            if (e.getRowKey().equals(IndexKeys.LATEST)) {
                pointer = e;
            } else {
                rows.put(IndexKeys.stepOfRow(e.getRowKey()), e);
            }
        }
        Long highest = rows.descendingMap().entrySet().stream()
                .filter(e -> "COMMITTED".equals(e.getValue().getProperties().get("State")))
                .map(Map.Entry::getKey).findFirst().orElse(null);
        if (pointer == null) {
            if (highest != null) {
                problems.add("no pointer while step " + highest + " is COMMITTED");
            }
            return;
        }
        long named = ((Number) pointer.getProperties().get("LatestStep")).longValue();
        if (!java.util.Objects.equals(highest, named < 0 ? null : named)) {
            problems.add("pointer names " + named + ", highest COMMITTED row is " + highest);
            return;
        }
        if (highest != null) {
            Object rowPinned = rows.get(highest).getProperties().get("Pinned");
            if (!rowPinned.equals(pointer.getProperties().get("Pinned"))) {
                problems.add("pointer shows step " + highest + " pinned=" + pointer.getProperties().get("Pinned")
                        + ", its row pinned=" + rowPinned);
            }
        }
    }

    @Test
    void throughTheAppLatestFollowsCommitsTamperingDeletionAndSurvivesAMissingOrStalePointer() throws Exception {
        TestApp app = apps.get(0);
        Trainer trainer = new Trainer(app);
        String run = "pointer-app";
        RunId runId = new RunId(run);
        for (long step : new long[] {10, 20, 30}) {
            trainer.commitSmall(run, step, 3, Map.of("loss", 1.0 / step));
        }
        assertLatest(app, run, 30);

        // A committed file overwritten behind the app's back: TAMPERED, and latest moves down.
        CheckpointId s30 = CheckpointId.of(run, 30);
        String blob = s30.prefix() + "rank-1/shard.bin";
        app.store.breakLease(blob);
        app.storage.container().getBlobClient(blob).getBlockBlobClient().upload(BinaryData.fromString("evil"), true);
        assertEquals(CheckpointState.TAMPERED, apps.get(1).sync.refresh(s30).state());
        assertLatest(app, run, 20);

        // Deleted by another instance: latest moves down again.
        Checkpoint c20 = apps.get(2).sync.refresh(CheckpointId.of(run, 20));
        assertEquals(RetentionEnforcer.Outcome.DELETED, apps.get(2).enforcer.delete(c20, "test", true).outcome());
        assertLatest(app, run, 10);

        // An index written before pointers existed: latest answers from the rows, the next commit
        // creates the pointer from them.
        app.storage.indexTable().deleteEntity(run, IndexKeys.LATEST);
        assertTrue(app.index.latest(runId).isEmpty());
        assertLatest(app, run, 10);
        trainer.commitSmall(run, 5, 1, Map.of());
        assertTrue(app.index.latest(runId).isPresent());
        assertLatest(app, run, 10);
        trainer.commitSmall(run, 40, 2, Map.of());
        assertLatest(app, run, 40);

        // A stale pointer (left by hand here) is put right by reindex.
        app.storage.indexTable().upsertEntity(new TableEntity(run, IndexKeys.LATEST).addProperty("LatestStep", -1L));
        assertEquals(404, trainer.latest(run).status(), "the pointer is what latest reads");
        apps.get(1).reindexer.reindex(runId);
        assertLatest(app, run, 40);
    }

    /** Latest by the pointer = the highest step storage derives as COMMITTED, with the files GET step lists. */
    private static void assertLatest(TestApp app, String run, long expected) {
        Checkpoint latest = app.queries.latest(new RunId(run));
        assertEquals(expected, latest.step());
        Long highest = null;
        for (Checkpoint c : app.sync.allOfRun(new RunId(run))) {
            if (app.sync.inspect(CheckpointId.of(run, c.step())).state() == CheckpointState.COMMITTED
                    && (highest == null || c.step() > highest)) {
                highest = c.step();
            }
        }
        assertEquals(Long.valueOf(expected), highest, "the highest COMMITTED step in storage");
        Checkpoint viaRows = app.queries.get(CheckpointId.of(run, expected), false);
        assertEquals(viaRows.files(), latest.files().stream().map(f -> f.withUrl(null)).toList());
        assertEquals(viaRows.bytes(), latest.bytes());
        assertEquals(viaRows.metrics(), latest.metrics());
        assertTrue(latest.files().stream().allMatch(f -> f.url() != null), "read URLs for every file");
    }

    @Test
    void fileListsPackIntoThePointerUntilTheyOutgrowTheRow() {
        List<FileEntry> files = new ArrayList<>();
        Random random = new Random(1);
        for (int i = 0; i < 4096; i++) {
            files.add(new FileEntry(String.format("rank-%05d/model-%05d-of-04096.safetensors", i, i), 1L << 30,
                    "\"0x8DC" + Long.toHexString(random.nextLong()).toUpperCase() + "\"",
                    String.format("%064x", new java.math.BigInteger(256, random)), null,
                    i % 2 == 0 ? null : "2026-01-02T03:04:05." + String.format("%07d", i) + "Z"));
        }
        byte[] packed = IndexStore.packFiles(files);
        assertEquals(files, IndexStore.unpackFiles(packed));
        assertTrue(packed.length <= IndexStore.FILE_CHUNK_BYTES * IndexStore.MAX_FILE_CHUNKS,
                "4,096 files with sha256 and version ids fit the row: " + packed.length + " B");
        assertTrue(IndexStore.unpackFiles(IndexStore.packFiles(List.of())).isEmpty());
        assertFalse(packed.length < 1000);
    }
}
