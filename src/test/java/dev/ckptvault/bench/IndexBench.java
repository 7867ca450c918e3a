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
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.error.StorageUnavailableException;


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
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0);
             TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                     OutgoingEventPublisher.DISABLED)) {
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
                    CheckpointState state = step % 7 == 6 ? CheckpointState.UPLOADING : CheckpointState.COMMITTED;
                    Checkpoint c = new Checkpoint(run.value(), step, state, "hot", List.of(), List.of(), List.of(), 8 << 20,
                            Map.of(), false, Instant.now(), Instant.now(), Instant.now());
                    // Eight writers commit at once here, more than a run ever does: a pointer conflict
                    // the sync would retry is retried.
                    for (int attempt = 0; ; attempt++) {
                        try {
                            ctx.index.putCheckpoint(c, null, state == CheckpointState.COMMITTED ? record(run, step) : null);
                            return null;
                        } catch (StorageUnavailableException e) {
                            if (attempt > 20) {
                                throw e;
                            }
                        }
                    }
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
            pool.shutdown();
            System.out.printf("set-up: %d checkpoints (blobs + rows) in %.1f s%n", n, (System.nanoTime() - t0) / 1e9);
            long expected = n - 1 - (n % 7 == 0 ? 1 : 0);
            CheckpointId newest = CheckpointId.of(run.value(), expected);
            Timings t = new Timings(rounds.timed(), 1);
            int list = t.variant("(a) list the container for the newest _commit.json (no index)");
            int point = t.variant("(b) one table point read (the newest checkpoint's row)");
            int index = t.variant("(c) GET latest through the index (pointer + 8 read URLs)");
            long tableCalls = 0;
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
                ctx.index.checkpoint(newest).orElseThrow();
                long e2 = System.nanoTime() - s;
                long ops = ctx.index.operations();
                s = System.nanoTime();
                Checkpoint latest = ctx.queries.latest(run);
                long e3 = System.nanoTime() - s;
                tableCalls = ctx.index.operations() - ops;
                if (found != latest.step() || latest.step() != expected || latest.files().size() != 8) {
                    throw new IllegalStateException("listing found " + found + ", index " + latest.step());
                }
                if (r >= 0) {
                    t.record(list, r, e1);
                    t.record(point, r, e2);
                    t.record(index, r, e3);
                }
            }
            t.print();
            double latestMs = t.medianMs(index);
            double pointMs = t.medianMs(point);
            double listMs = t.medianMs(list);
            Summary.put("latest_checkpoints", n);
            Summary.put("latest_ms", latestMs);
            Summary.put("point_read_ms", pointMs);
            Summary.put("latest_vs_point_read", latestMs / pointMs);
            Summary.put("latest_table_round_trips", tableCalls);
            Summary.put("listing_ms", listMs);
            Summary.put("latest_speedup_vs_listing", listMs / latestMs);
            Summary.row("`GET latest` at " + n + " checkpoints (" + tableCalls + " table round trip"
                    + (tableCalls == 1 ? "" : "s") + ", 8 read URLs)", "latest_vs_point_read", Summary.ms(latestMs),
                    "one table point read " + Summary.ms(pointMs), Summary.x(latestMs / pointMs), "<= 1.5",
                    latestMs / pointMs <= 1.5 && tableCalls <= 2);
            Summary.row("`GET latest` vs listing the run (no index)", "latest_speedup_vs_listing",
                    Summary.ms(latestMs), "listing " + Summary.ms(listMs), Summary.x(listMs / latestMs) + " faster",
                    null, null);
        }
    }

    /** Eight files with sha256, as a rank-per-file job of eight ranks records them. */
    static CommitRecord record(RunId run, long step) {
        List<CommitRecord.File> files = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            files.add(new CommitRecord.File(String.format("rank-%05d/model.safetensors", i), 1 << 20,
                    "\"0x8DC" + Long.toHexString(step * 8 + i).toUpperCase() + "\"", Instant.now(), "ab".repeat(32), null));
        }
        return new CommitRecord(run.value(), step, Instant.now(), "lease", files, Map.of(), Map.of(), "r" + step);
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
