package dev.ckptvault.bench;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.batch.BlobBatchClientBuilder;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.lifecycle.RetentionEnforcer;
import dev.ckptvault.testing.AzuriteExtension;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.events.OutgoingEventPublisher;

/**
 * Deleting a 1000-file checkpoint: (a) baseline, one Delete Blob call per file; (b) the retention
 * enforcer's whole deletion (tombstone, listing, Blob Batch deletes of 256, index refreshes);
 * (c) the Blob Batch deletes alone (4 batches), to show what the enforcer's bookkeeping costs.
 * Both against the same in-memory Azurite in the same run; the checkpoint is rewritten (untimed)
 * before every timed deletion. Azurite serves batch sub-requests one after another, so the ratio
 * here understates Azure's, where a batch is one round trip instead of 256.
 */
final class BatchDeleteBench {
    static final int FILES = 1000;

    /** The Blob Batch API takes at most 256 sub-requests. */
    private static final int BATCH = 256;

    private BatchDeleteBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        // Each round writes 2 x 1000 blobs; Azurite slows as it fills, so keep the rounds few.
        int timed = Math.min(rounds.timed(), 5);
        int warmup = Math.min(rounds.warmup(), 1);
        ExecutorService pool = Executors.newFixedThreadPool(16);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                    OutgoingEventPublisher.DISABLED);
            BlobContainerClient container = ctx.storage.container();
            RetentionEnforcer enforcer = ctx.enforcer;
            Timings t = new Timings(timed, FILES);
            int a = t.variant("(a) one Delete Blob per file (baseline)");
            int b = t.variant("(b) RetentionEnforcer.delete: tombstone + Blob Batch (256/batch)");
            int c3 = t.variant("(c) Blob Batch deletes only (256/batch)");
            var batch = new BlobBatchClientBuilder(container).buildClient();
            long step = 0;
            for (int r = -warmup; r < timed; r++) {
                for (int k = 0; k < 3; k++) {
                    int v = Math.floorMod(r + k, 3);
                    CheckpointId id = CheckpointId.of("bench", ++step);
                    List<String> names = write(container, id, pool);
                    long t0 = System.nanoTime();
                    if (v == a) {
                        for (String n : names) {
                            container.getBlobClient(n).delete();
                        }
                    } else if (v == c3) {
                        for (int from = 0; from < names.size(); from += BATCH) {
                            List<String> urls = new ArrayList<>();
                            for (String n : names.subList(from, Math.min(names.size(), from + BATCH))) {
                                urls.add(container.getBlobClient(n).getBlobUrl());
                            }
                            batch.deleteBlobs(urls, null).forEach(x -> { });
                        }
                    } else {
                        var c = ctx.sync.refresh(id);
                        var result = enforcer.delete(c, "bench", true);
                        if (result.outcome() != RetentionEnforcer.Outcome.DELETED) {
                            throw new IllegalStateException("not deleted: " + result);
                        }
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
            System.out.println(FILES + " files per checkpoint, " + timed + " timed rounds");
            t.print();
            if (ctx.sync.get(CheckpointId.of("bench", step)).map(c -> c.state()).orElse(null) == CheckpointState.UPLOADING) {
                throw new IllegalStateException("index not updated by the enforcer");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private static List<String> write(BlobContainerClient container, CheckpointId id, ExecutorService pool)
            throws Exception {
        List<String> names = new ArrayList<>(FILES);
        List<Future<?>> done = new ArrayList<>(FILES);
        for (int i = 0; i < FILES; i++) {
            String name = id.prefix() + String.format("rank-%04d/shard.bin", i);
            names.add(name);
            done.add(pool.submit(() -> container.getBlobClient(name).upload(BinaryData.fromString("x"), true)));
        }
        for (Future<?> f : done) {
            f.get();
        }
        return names;
    }
}
