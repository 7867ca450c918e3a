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

    /**
     * Commit latency in-process: 16 ranks' files written through issued URLs (plain HTTP), then
     * the commit call; from the last shard written to the checkpoint read back COMMITTED. The
     * baseline is the floor of any commit, done by hand with the SDK on the same kind of
     * checkpoint: write the manifest, list the prefix, write the record, lease the 16 files (in
     * parallel), write one table row.
     */
    static void commit(BenchMain.Rounds rounds) throws Exception {
        int files = Integer.getInteger("bench.commit.files", 16);
        int timed = Math.min(rounds.timed(), 10);
        java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder()
                .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
        ExecutorService pool = Executors.newFixedThreadPool(files);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0);
             TestApp ctx = AzuriteExtension.app(azurite.connectionString(), Map.of(), Clock.systemUTC(),
                     OutgoingEventPublisher.DISABLED)) {
            Timings t = new Timings(timed, files);
            int floor = t.variant("(a) floor by hand: manifest + listing + record + " + files + " leases + 1 row");
            int commit = t.variant("(b) last shard written -> COMMITTED read back (commit call)");
            for (int r = -Math.min(rounds.warmup(), 3); r < timed; r++) {
                CheckpointId id = CheckpointId.of("bench-commit", 100 + r);
                List<String> paths = new ArrayList<>();
                for (int i = 0; i < files; i++) {
                    paths.add(String.format("rank-%05d/shard.bin", i));
                }
                dev.ckptvault.upload.UploadAnswer answer = ctx.uploads.issue(id, new dev.ckptvault.upload.UploadRequest(
                        paths.stream().map(p -> new dev.ckptvault.upload.UploadRequest.FileRequest(
                                new dev.ckptvault.layout.RelativePath(p), java.util.Optional.empty())).toList(),
                        java.util.Optional.empty()));
                byte[] data = new byte[64 << 10];
                List<Future<String>> puts = new ArrayList<>();
                for (var u : answer.uploads()) {
                    puts.add(pool.submit(() -> dev.ckptvault.local.SasUrls.putBlob(http, u.url(), data).headers()
                            .firstValue("etag").orElseThrow()));
                }
                StringBuilder manifest = new StringBuilder("{\"step\":" + id.step() + ",\"files\":[");
                for (int i = 0; i < files; i++) {
                    manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(paths.get(i))
                            .append("\",\"size\":").append(data.length).append(",\"etag\":")
                            .append(dev.ckptvault.json.Json.write(puts.get(i).get())).append('}');
                }
                long lastShard = System.nanoTime();
                Checkpoint c = ctx.commits.commit(id, dev.ckptvault.json.Json.parse(manifest.append("]}").toString(), "manifest"));
                Checkpoint read = ctx.queries.get(id, false);
                long visible = System.nanoTime();
                if (c.state() != CheckpointState.COMMITTED || read.state() != CheckpointState.COMMITTED) {
                    throw new IllegalStateException("expected COMMITTED, got " + c.state() + " / " + read.state());
                }
                // The floor, on a checkpoint of its own with the same files.
                CheckpointId byHand = CheckpointId.of("bench-floor", 100 + r);
                List<String> names = new ArrayList<>();
                List<Future<?>> writes = new ArrayList<>();
                for (String p : paths) {
                    names.add(byHand.prefix() + p);
                    writes.add(pool.submit(() -> ctx.storage.container().getBlobClient(byHand.prefix() + p)
                            .getBlockBlobClient().upload(BinaryData.fromBytes(data), true)));
                }
                for (Future<?> f : writes) {
                    f.get();
                }
                long f0 = System.nanoTime();
                ctx.store.createIfAbsent(byHand.manifestBlob(), manifest.toString().getBytes(), Map.of());
                ctx.store.list(byHand.prefix(), true);
                ctx.store.createIfAbsent(byHand.commitBlob(), manifest.toString().getBytes(), Map.of());
                String lease = java.util.UUID.randomUUID().toString();
                List<Future<?>> leases = new ArrayList<>();
                for (String n : names) {
                    leases.add(pool.submit(() -> ctx.store.acquireLease(n, lease)));
                }
                for (Future<?> f : leases) {
                    f.get();
                }
                ctx.storage.indexTable().upsertEntity(new com.azure.data.tables.models.TableEntity("bench-floor",
                        dev.ckptvault.index.IndexKeys.checkpointRow(100 + r)).addProperty("State", "COMMITTED"));
                long f1 = System.nanoTime();
                if (r >= 0) {
                    t.record(commit, r, visible - lastShard);
                    t.record(floor, r, f1 - f0);
                }
            }
            t.print();
            double latency = t.medianMs(commit);
            double floorMs = t.medianMs(floor);
            Summary.put("commit_latency_ms_p50", latency);
            Summary.put("commit_floor_ms_p50", floorMs);
            Summary.put("commit_latency_vs_floor", latency / floorMs);
            Summary.row("commit latency in-process, " + files + " ranks (last shard -> COMMITTED)", "commit_latency_ms_p50",
                    Summary.ms(latency), "floor by hand (manifest, listing, record, " + files + " leases, row) "
                            + Summary.ms(floorMs), Summary.x(latency / floorMs), null, null);
        } finally {
            pool.shutdownNow();
        }
    }
}
