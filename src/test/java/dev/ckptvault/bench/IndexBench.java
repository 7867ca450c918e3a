package dev.ckptvault.bench;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.models.BlobItem;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.testing.AzuriteExtension;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import dev.ckptvault.layout.Step;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.checkpoint.StoredBlob;


/**
 * Index figures for issue 3: finding the latest committed checkpoint among 10,000 through the index
 * vs listing the container, and the cost of committing a 1,000-file checkpoint (commit record +
 * one infinite lease per file + index rows) vs the one listing any commit check needs.
 */
final class IndexBench {
    private IndexBench() {
    }

    static void latest(BenchMain.Rounds rounds) throws Exception {
        int n = Integer.getInteger("bench.checkpoints", 10_000);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                    OutgoingEventPublisher.DISABLED);
            RunId run = new RunId("bench-latest");
            ctx.index.putRun(run, Instant.now());
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> fs = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < n; i++) {
                final long step = i;
                fs.add(pool.submit(() -> {
                    CheckpointId id = new CheckpointId(run, dev.ckptvault.layout.Step.of(step));
                    // The baseline needs the commit records in the container; the index needs the rows.
                    ctx.storage.container().getBlobClient(id.commitBlob()).upload(BinaryData.fromString("{}"));
                    ctx.index.putCheckpoint(new Checkpoint(run.value(), step,
                            step % 7 == 6 ? CheckpointState.UPLOADING : CheckpointState.COMMITTED, "hot", List.of(),
                            List.of(), List.of(), 0, Map.of(), false, Instant.now(), Instant.now(), Instant.now()), null);
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            System.out.printf("set-up: %d checkpoints (blobs + rows) in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
            Timings t = new Timings(rounds.timed(), 1);
            int list = t.variant("list the container for the newest _commit.json (no index)");
            int index = t.variant("GET latest through the index (query + files + read URLs)");
            long expected = n - 1 - (n % 7 == 0 ? 1 : 0);
            for (int r = -rounds.warmup(); r < rounds.timed(); r++) {
                long s = System.nanoTime();
                long found = -1;
                for (StoredBlob b : ctx.store.list(run.prefix(), false)) {
                    if (BlobName.parse(b.name()).orElse(null) instanceof BlobName.Record rec
                            && rec.kind() == BlobName.Kind.COMMIT) {
                        found = Math.max(found, rec.checkpoint().step().value());
                    }
                }
                long e1 = System.nanoTime() - s;
                s = System.nanoTime();
                long viaIndex = ctx.queries.latest(run).step();
                long e2 = System.nanoTime() - s;
                if (found != viaIndex) {
                    throw new IllegalStateException("listing found " + found + ", index " + viaIndex);
                }
                if (r >= 0) {
                    t.record(list, r, e1);
                    t.record(index, r, e2);
                }
            }
            t.print();
        }
    }

    static void commit(BenchMain.Rounds rounds) throws Exception {
        int files = Integer.getInteger("bench.files", 1000);
        int timed = Math.min(rounds.timed(), 5);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                    OutgoingEventPublisher.DISABLED);
            Timings t = new Timings(timed, files);
            int list = t.variant("one listing of the checkpoint (any commit check needs it)");
            int commit = t.variant("commit: listing + _commit.json + " + files + " leases + index rows");
            ExecutorService pool = Executors.newFixedThreadPool(8);
            for (int r = -1; r < timed; r++) {
                CheckpointId id = CheckpointId.of("bench-commit", 100 + r);
                StringBuilder manifest = new StringBuilder("{\"step\":" + id.step() + ",\"files\":[");
                List<Future<String>> fs = new ArrayList<>();
                for (int i = 0; i < files; i++) {
                    String path = String.format("rank-%05d/shard.bin", i);
                    fs.add(pool.submit(() -> ctx.storage.container().getBlobClient(id.prefix() + path)
                            .getBlockBlobClient().upload(BinaryData.fromString("x"), true).getETag()));
                }
                for (int i = 0; i < files; i++) {
                    String path = String.format("rank-%05d/shard.bin", i);
                    // Every manifest file names its eTag (required).
                    manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(path)
                            .append("\",\"size\":1,\"etag\":\"").append(fs.get(i).get().replace("\"", "")).append("\"}");
                }
                ctx.store.createIfAbsent(id.manifestBlob(), manifest.append("]}").toString().getBytes(), Map.of());
                long s = System.nanoTime();
                int listed = ctx.store.list(id.prefix(), true).size();
                long e1 = System.nanoTime() - s;
                s = System.nanoTime();
                Checkpoint c = ctx.sync.refresh(id);
                long e2 = System.nanoTime() - s;
                if (c.state() != CheckpointState.COMMITTED || listed != files + 1) {
                    throw new IllegalStateException("expected COMMITTED with " + files + " files, got " + c.state());
                }
                if (r >= 0) {
                    t.record(list, r, e1);
                    t.record(commit, r, e2);
                }
            }
            pool.shutdown();
            t.print();
            System.out.println("(ratio column: the listing is the baseline; us/op is per file)");
        }
    }

}
