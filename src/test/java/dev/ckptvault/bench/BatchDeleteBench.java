package dev.ckptvault.bench;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.DeleteSnapshotsOptionType;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.lifecycle.RetentionEnforcer;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Deleting a committed 1000-file checkpoint (every file under the commit's infinite lease), the
 * way retention deletes one: (a) baseline, one Delete Blob per blob (with the lease id where
 * leased); (b) {@code RetentionEnforcer.delete} as retention calls it (not forced: re-check from
 * storage, tombstone, settle, index DELETING, Blob Batch deletes of 256, index DELETED); (c) the
 * Blob Batch deletes alone, to show what the enforcer's bookkeeping costs; (d) the floor of (b): the
 * one listing any deletion needs, then (c). Each round commits a
 * fresh checkpoint through the app (untimed) for each variant, against one in-memory Azurite.
 */
final class BatchDeleteBench {
    static final int FILES = 1000;

    private BatchDeleteBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        // Each round commits 4 x 1000 blobs with leases; Azurite slows as it fills, so keep the rounds few.
        int timed = Math.min(rounds.timed(), 5);
        int warmup = Math.min(rounds.warmup(), 1);
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0);
             TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                     OutgoingEventPublisher.DISABLED)) {
            BlobContainerClient container = ctx.storage.container();
            RetentionEnforcer enforcer = ctx.enforcer;
            Timings t = new Timings(timed, FILES);
            int a = t.variant("(a) one Delete Blob per blob (baseline)");
            int b = t.variant("(b) RetentionEnforcer.delete (retention, not forced)");
            int c = t.variant("(c) Blob Batch deletes only (256 per batch)");
            int f = t.variant("(d) floor of (b): one listing of the prefix, then (c)");
            long step = 0;
            long deletedByEnforcer = 0;
            for (int r = -warmup; r < timed; r++) {
                for (int k = 0; k < 4; k++) {
                    int v = Math.floorMod(r + k, 4);
                    CheckpointId id = CheckpointId.of("bench", ++step);
                    Checkpoint seen = commit(ctx, id, pool);
                    List<StoredBlob> blobs = ctx.store.list(id.prefix(), true);
                    String leaseId = Json.read(ctx.store.download(id.commitBlob()).orElseThrow(), CommitRecord.class)
                            .leaseId();
                    // The commit's after-commit work (retention of the run) runs apart: not inside the clock.
                    ctx.awaitAfterCommit();
                    long t0 = System.nanoTime();
                    if (v == a) {
                        for (StoredBlob blob : blobs) {
                            container.getBlobClient(blob.name()).deleteWithResponse(DeleteSnapshotsOptionType.INCLUDE,
                                    blob.leased() ? new BlobRequestConditions().setLeaseId(leaseId) : null, null, null);
                        }
                    } else if (v == c || v == f) {
                        if (v == f) {
                            blobs = ctx.store.list(id.prefix(), true);
                        }
                        List<String> refused = ctx.store.deleteAll(blobs.stream()
                                .map(x -> new ContainerStore.Target(x.name(), x.leased() ? leaseId : null)).toList());
                        if (!refused.isEmpty()) {
                            throw new IllegalStateException(refused.size() + " deletes refused");
                        }
                    } else {
                        var result = enforcer.delete(seen, "bench", false);
                        if (result.outcome() != RetentionEnforcer.Outcome.DELETED) {
                            throw new IllegalStateException("not deleted: " + result);
                        }
                        deletedByEnforcer = step;
                    }
                    long elapsed = System.nanoTime() - t0;
                    if (r >= 0) {
                        t.record(v, r, elapsed);
                    }
                    int left = ctx.store.list(id.prefix(), false).size();
                    if (left > (v == b ? 1 : 0)) {
                        throw new IllegalStateException(left + " blobs left after variant " + v);
                    }
                }
            }
            System.out.println(FILES + " files per checkpoint, committed (leased), " + timed + " timed rounds");
            t.print();
            if (ctx.sync.get(CheckpointId.of("bench", deletedByEnforcer)).map(Checkpoint::state).orElse(null)
                    != CheckpointState.DELETED) {
                throw new IllegalStateException("index not updated by the enforcer");
            }
            double one = t.medianMs(a);
            double whole = t.medianMs(b);
            double batches = t.medianMs(c);
            Summary.put("delete_1000_ms", whole);
            Summary.put("delete_1000_one_by_one_ms", one);
            Summary.put("delete_1000_batches_only_ms", batches);
            Summary.put("delete_1000_speedup", one / whole);
            Summary.put("delete_1000_batches_only_speedup", one / batches);
            double floor = t.medianMs(f);
            Summary.put("delete_1000_floor_ms", floor);
            Summary.put("delete_1000_vs_floor", whole / floor);
            Summary.row("retention delete of a committed 1,000-file checkpoint", "delete_1000_speedup",
                    Summary.ms(whole), "one Delete Blob per blob " + Summary.ms(one), Summary.x(one / whole) + " faster",
                    ">= 1.8", one / whole >= 1.8);
            Summary.row("its Blob Batch deletes alone (for reference)", "delete_1000_batches_only_speedup",
                    Summary.ms(batches), "one Delete Blob per blob " + Summary.ms(one),
                    Summary.x(one / batches) + " faster", null, null);
            Summary.row("the retention delete against its floor", "delete_1000_vs_floor", Summary.ms(whole),
                    "one listing, then the Blob Batch deletes " + Summary.ms(floor), Summary.x(whole / floor), null, null);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Writes {@value #FILES} tiny files and commits them through the app (record, leases, index rows). */
    private static Checkpoint commit(TestApp ctx, CheckpointId id, ExecutorService pool) throws Exception {
        List<Future<String>> etags = new ArrayList<>(FILES);
        for (int i = 0; i < FILES; i++) {
            String name = id.prefix() + String.format("rank-%04d/shard.bin", i);
            etags.add(pool.submit(() -> ctx.storage.container().getBlobClient(name).getBlockBlobClient()
                    .upload(BinaryData.fromString("x"), true).getETag()));
        }
        StringBuilder manifest = new StringBuilder("{\"step\":" + id.step() + ",\"files\":[");
        for (int i = 0; i < FILES; i++) {
            manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(String.format("rank-%04d/shard.bin", i))
                    .append("\",\"size\":1,\"etag\":").append(Json.write(etags.get(i).get())).append('}');
        }
        Checkpoint c = ctx.commits.commit(id, Json.parse(manifest.append("]}").toString(), "manifest"));
        if (c.state() != CheckpointState.COMMITTED) {
            throw new IllegalStateException("set-up commit answered " + c.state());
        }
        // As retention plans: from the index row.
        return ctx.sync.get(id).orElseThrow();
    }
}
