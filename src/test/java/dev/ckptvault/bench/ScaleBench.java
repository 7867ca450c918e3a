package dev.ckptvault.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.LocalStack;
import dev.ckptvault.local.SasUrls;
import dev.ckptvault.local.TrainerSimulation;
import dev.ckptvault.testing.AzuriteExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Distributed jobs of many ranks against the local stack (the local host's HTTP server, the app's
 * function classes, the blob event watcher, Azurite), in this process, through the public API
 * and the issued URLs with the JDK's HTTP client, as a training job does: every rank asks for its
 * write URLs at once and PUTs its files; rank 0 commits the manifest with every eTag. Then the
 * checkpoint is deleted by an admin, as retention would.
 *
 * <p>Per checkpoint it reports the uploads calls' latency, the commit latency (last shard written
 * to the commit answering COMMITTED), the time per file (first uploads call to COMMITTED, divided
 * by the files), and requests COUNTED, not estimated: the trainers' requests as they send them,
 * and the app's storage and table requests at its SDK clients ({@link RequestCounter}), until the
 * app has been idle for two seconds (the blob events of the checkpoint handled). The local event
 * watcher's listings are counted apart: in Azure, Event Grid does that work.
 *
 * <p>Also the trainer simulation ({@link TrainerSimulation}) against the same kind of stack: its
 * commit latency is {@code commit_latency_local_ms_p50}.
 */
final class ScaleBench {
    private static final String ADMIN_KEY = "bench-admin-key-0123456789";

    /** One job shape. */
    record Scenario(String key, String label, int ranks, int filesPerRank, int blocksPerFile, int blockBytes) {
        int files() {
            return ranks * filesPerRank;
        }

        long fileBytes() {
            return (long) blocksPerFile * blockBytes;
        }
    }

    private ScaleBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        simulation();
        List<Scenario> scenarios = List.of(
                new Scenario("scale_16", "16 ranks x 1 file", 16, 1, 1, 64 << 10),
                new Scenario("scale_1024", "1,024 ranks x 1 file", 1024, 1, 1, 64 << 10),
                new Scenario("scale_256x4x2", "256 ranks x 4 files x 2 blocks", 256, 4, 2, 32 << 10));
        Map<String, Map<String, Object>> results = new LinkedHashMap<>();
        for (Scenario s : scenarios) {
            results.put(s.key(), scenario(s));
        }
        double per16 = (double) results.get("scale_16").get("time_per_file_ms");
        double per1024 = (double) results.get("scale_1024").get("time_per_file_ms");
        Summary.put("scale_time_per_file_1024_vs_16", per1024 / per16);
        Summary.row("time per file, 1,024-rank checkpoint (local stack)", "scale_time_per_file_1024_vs_16",
                Summary.ms(per1024), "16-rank checkpoint " + Summary.ms(per16), Summary.x(per1024 / per16), "<= 2",
                per1024 / per16 <= 2);
        for (Scenario s : scenarios) {
            Map<String, Object> r = results.get(s.key());
            Summary.row("uploads call p50 / p99, " + s.label(), s.key() + "_uploads_p50_ms",
                    Summary.ms((double) r.get("uploads_p50_ms")) + " / " + Summary.ms((double) r.get("uploads_p99_ms")),
                    "", "", null, null);
            Summary.row("commit latency, " + s.label(), s.key() + "_commit_latency_ms",
                    Summary.ms((double) r.get("commit_latency_ms")), "", "", null, null);
            Summary.row("requests per file, " + s.label() + " (write + commit + events; delete)",
                    s.key() + "_storage_requests_per_file", String.format(Locale.ROOT,
                            "storage %.2f, table %.2f; delete: storage %.2f, table %.2f",
                            r.get("storage_requests_per_file"), r.get("table_ops_per_file"),
                            r.get("delete_storage_requests_per_file"), r.get("delete_table_ops_per_file")),
                    "", "", null, null);
        }
        Summary.put("scale", results);
    }

    /** The trainer simulation through a fresh local stack: 8 ranks, 5 checkpoints of 1 MiB shards. */
    private static void simulation() throws Exception {
        try (LocalStack stack = start()) {
            String url = "http://127.0.0.1:" + stack.port();
            TrainerSimulation.Report report = TrainerSimulation.run(new TrainerSimulation.Options(URI.create(url),
                    8, 5, 1 << 20, 1 << 20, "sim-bench", null, ADMIN_KEY, null, Duration.ofMinutes(2)));
            System.out.print(report.table());
            if (!report.passed()) {
                throw new IllegalStateException("the trainer simulation failed: " + report.problems());
            }
            double p50 = -1;
            for (String[] row : report.rows()) {
                if (row[0].startsWith("commit latency p50")) {
                    p50 = Double.parseDouble(row[1].substring(0, row[1].indexOf(' ')));
                }
            }
            Summary.put("commit_latency_local_ms_p50", p50);
            Summary.put("commit_latency_local_shape", "8 ranks x 5 checkpoints x 1 MiB, local host, GET polled every 100 ms");
            Summary.row("commit latency through the local stack (trainer simulation, 8 ranks)",
                    "commit_latency_local_ms_p50", Summary.ms(p50), "in-process commit latency "
                            + Summary.ms(((Number) Summary.get("commit_latency_ms_p50", -1.0)).doubleValue()),
                    "", null, null);
        }
    }

    private static LocalStack start() throws Exception {
        // The sweep runs once a year here: its work is per sweep, not per checkpoint.
        return LocalStack.start(new LocalStack.Options(0, null, null, Optional.empty(), Optional.of(ADMIN_KEY),
                AzuriteExtension.projectDir(), Duration.ofMillis(250)), Map.of("CKPT_SWEEP_SCHEDULE", "0 0 0 1 1 *"));
    }

    /** One checkpoint of the scenario on a fresh stack (after a small warm-up checkpoint), then its deletion. */
    private static Map<String, Object> scenario(Scenario s) throws Exception {
        System.out.println("-- " + s.label());
        try (LocalStack stack = start()) {
            Job job = new Job("http://127.0.0.1:" + stack.port(), "scale-" + s.ranks() + "x" + s.filesPerRank());
            job.checkpoint(new Scenario("warm", "warm-up", 16, 1, 1, 4 << 10), 1);
            awaitIdle();
            Map<String, Long> before = RequestCounter.snapshot();
            Job.Result r = job.checkpoint(s, 100);
            awaitIdle();
            Map<String, Long> written = RequestCounter.since(before);
            before = RequestCounter.snapshot();
            long t0 = System.nanoTime();
            job.delete(100);
            double deleteMs = (System.nanoTime() - t0) / 1e6;
            awaitIdle();
            Map<String, Long> deleted = RequestCounter.since(before);

            Map<String, Object> out = new LinkedHashMap<>();
            out.put("ranks", s.ranks());
            out.put("files", s.files());
            out.put("blocks_per_file", s.blocksPerFile());
            out.put("file_bytes", s.fileBytes());
            out.put("uploads_calls", r.uploadMs().size());
            out.put("uploads_p50_ms", Summary.round(percentile(r.uploadMs(), 50)));
            out.put("uploads_p99_ms", Summary.round(percentile(r.uploadMs(), 99)));
            out.put("commit_latency_ms", Summary.round(r.commitLatencyMs()));
            out.put("checkpoint_ms", Summary.round(r.wallMs()));
            out.put("time_per_file_ms", Summary.round(r.wallMs() / s.files()));
            out.put("delete_ms", Summary.round(deleteMs));
            Counts w = Counts.of(written, r.trainer(), r.httpCalls());
            Counts d = Counts.of(deleted, Map.of(), 1);
            out.put("write", w.toMap(s.files()));
            out.put("delete", d.toMap(s.files()));
            out.put("storage_requests_per_file", Summary.round((double) w.storage() / s.files()));
            out.put("table_ops_per_file", Summary.round((double) w.table() / s.files()));
            out.put("delete_storage_requests_per_file", Summary.round((double) d.storage() / s.files()));
            out.put("delete_table_ops_per_file", Summary.round((double) d.table() / s.files()));
            System.out.println(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(out));
            out.forEach((k, v) -> {
                if (v instanceof Number) {
                    Summary.put(s.key() + "_" + k, v);
                }
            });
            return out;
        }
    }

    /**
     * Requests of one phase. Storage: the app's blob requests (a Blob Batch counted by its
     * sub-requests) plus the trainers'; table: the app's table requests (a transaction is one);
     * events: what Event Grid would deliver (a BlobCreated per Put Blob and Put Block List, a
     * BlobDeleted per delete); executions: HTTP calls plus one per event.
     */
    record Counts(Map<String, Long> app, Map<String, Long> host, Map<String, Long> trainer, long httpCalls) {
        static Counts of(Map<String, Long> counted, Map<String, Long> trainer, long httpCalls) {
            Map<String, Long> app = new TreeMap<>();
            Map<String, Long> host = new TreeMap<>();
            counted.forEach((k, v) -> {
                if (k.startsWith("app ")) {
                    app.put(k.substring(4), v);
                } else if (k.startsWith("host ")) {
                    host.put(k.substring(5), v);
                }
            });
            return new Counts(app, host, trainer, httpCalls);
        }

        long storage() {
            return byClass().values().stream().mapToLong(Long::longValue).sum();
        }

        long table() {
            return app.entrySet().stream().filter(e -> e.getKey().startsWith("table ")).mapToLong(Map.Entry::getValue).sum();
        }

        /** Storage requests by billing class (hot tier, general purpose v2): Write, Read, ListCreate, Other, Free. */
        Map<String, Long> byClass() {
            Map<String, Long> out = new TreeMap<>();
            app.forEach((k, v) -> {
                if (k.startsWith("blob ") && !k.equals("blob Other BlobBatch")) {
                    String cls = k.equals("blob batch-sub") ? "Free" : k.split(" ")[1];
                    out.merge(cls, v, Long::sum);
                }
            });
            trainer.forEach((k, v) -> out.merge("Write", v, Long::sum));
            return out;
        }

        long events() {
            long created = trainer.getOrDefault("PutBlob", 0L) + trainer.getOrDefault("PutBlockList", 0L)
                    + app.getOrDefault("blob Write PutBlob", 0L) + app.getOrDefault("blob Write PutBlockList", 0L);
            long deletedBlobs = app.getOrDefault("blob batch-sub", 0L) + app.getOrDefault("blob Free DeleteBlob", 0L);
            return created + deletedBlobs;
        }

        Map<String, Object> toMap(int files) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("storage_by_class", byClass());
            out.put("storage_requests", storage());
            out.put("table_ops", table());
            out.put("blob_batch_requests", app.getOrDefault("blob Other BlobBatch", 0L));
            out.put("events", events());
            out.put("function_executions", httpCalls + events());
            out.put("http_calls", httpCalls);
            out.put("app_requests", app);
            out.put("trainer_requests", trainer);
            out.put("local_watcher_requests_not_in_azure", host);
            out.put("per_file", Map.of("storage", Summary.round((double) storage() / files),
                    "table", Summary.round((double) table() / files), "events", Summary.round((double) events() / files)));
            return out;
        }
    }

    /** Waits until the app's clients have sent nothing for two seconds (events of the last phase handled). */
    private static void awaitIdle() throws InterruptedException {
        long last = appTotal();
        long quietSince = System.nanoTime();
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            Thread.sleep(250);
            long now = appTotal();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince > Duration.ofSeconds(2).toNanos()) {
                return;
            }
        }
        throw new IllegalStateException("the app did not go idle within 5 minutes");
    }

    private static long appTotal() {
        return RequestCounter.snapshot().entrySet().stream().filter(e -> e.getKey().startsWith("app "))
                .mapToLong(Map.Entry::getValue).sum();
    }

    static double percentile(List<Double> values, double p) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    /** A job's ranks against one local host: a write token of the run, issued once with the admin key. */
    static final class Job {
        private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        private final String base;
        private final String run;
        private final String token;

        record Result(List<Double> uploadMs, double commitLatencyMs, double wallMs, Map<String, Long> trainer,
                      long httpCalls) {
        }

        Job(String base, String run) throws Exception {
            this.base = base;
            this.run = run;
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/api/manage/runs/" + run + "/tokens"))
                    .header("content-type", "application/json").header("x-functions-key", ADMIN_KEY)
                    .POST(HttpRequest.BodyPublishers.ofString("{\"scope\":\"write\",\"ttlMinutes\":240}")).build());
            require(r, 200, "issue a token");
            this.token = Json.parse(r.body(), "token").get("token").asText();
        }

        /** Every rank asks for its URLs and writes its files at once; rank 0 commits. */
        Result checkpoint(Scenario s, long step) throws Exception {
            byte[] block = new byte[s.blockBytes()];
            new java.util.Random(step).nextBytes(block);
            List<Double> uploadMs = Collections.synchronizedList(new ArrayList<>());
            Map<String, AtomicLong> trainer = new TreeMap<>(Map.of("PutBlob", new AtomicLong(),
                    "PutBlock", new AtomicLong(), "PutBlockList", new AtomicLong()));
            AtomicLong lastShard = new AtomicLong();
            ExecutorService ranks = Executors.newFixedThreadPool(s.ranks());
            List<Future<List<Map<String, Object>>>> all = new ArrayList<>();
            long start = System.nanoTime();
            try {
                for (int rank = 0; rank < s.ranks(); rank++) {
                    int r = rank;
                    all.add(ranks.submit(() -> rank(s, step, r, block, uploadMs, trainer, lastShard)));
                }
                List<Map<String, Object>> manifest = new ArrayList<>();
                for (Future<List<Map<String, Object>>> f : all) {
                    manifest.addAll(f.get());
                }
                HttpResponse<String> c = api("POST", "/checkpoints/" + step + "/commit",
                        Json.write(Map.of("step", step, "files", manifest)));
                long httpCalls = s.ranks() + 1;
                String state = c.statusCode() == 200 ? Json.parse(c.body(), "commit").path("state").asText() : "";
                while (!state.equals("COMMITTED")) {
                    if (c.statusCode() != 200 && c.statusCode() != 202) {
                        throw new IllegalStateException("commit answered " + c.statusCode() + ": " + c.body());
                    }
                    Thread.sleep(50);
                    c = api("GET", "/checkpoints/" + step, null);
                    httpCalls++;
                    state = c.statusCode() == 200 ? Json.parse(c.body(), "checkpoint").path("state").asText() : "";
                }
                long committed = System.nanoTime();
                Map<String, Long> sent = new TreeMap<>();
                trainer.forEach((k, v) -> sent.put(k, v.get()));
                return new Result(uploadMs, (committed - lastShard.get()) / 1e6, (committed - start) / 1e6, sent,
                        httpCalls);
            } finally {
                ranks.shutdownNow();
            }
        }

        private List<Map<String, Object>> rank(Scenario s, long step, int rank, byte[] block, List<Double> uploadMs,
                                               Map<String, AtomicLong> trainer, AtomicLong lastShard) throws Exception {
            List<String> paths = new ArrayList<>();
            List<Map<String, Object>> request = new ArrayList<>();
            for (int f = 0; f < s.filesPerRank(); f++) {
                String path = String.format(Locale.ROOT, "rank-%05d/shard-%02d.bin", rank, f);
                paths.add(path);
                request.add(Map.of("path", path, "size", s.fileBytes()));
            }
            long t = System.nanoTime();
            HttpResponse<String> u = api("POST", "/checkpoints/" + step + "/uploads", Json.write(Map.of("files", request)));
            uploadMs.add((System.nanoTime() - t) / 1e6);
            require(u, 200, "uploads");
            Map<String, String> urls = new LinkedHashMap<>();
            for (JsonNode up : Json.parse(u.body(), "uploads").get("uploads")) {
                urls.put(up.get("path").asText(), up.get("url").asText());
            }
            List<Map<String, Object>> written = new ArrayList<>();
            for (String path : paths) {
                String url = urls.get(path);
                HttpResponse<String> done;
                if (s.blocksPerFile() == 1) {
                    done = retry(() -> SasUrls.putBlob(HTTP, url, block));
                    trainer.get("PutBlob").incrementAndGet();
                } else {
                    List<String> ids = new ArrayList<>();
                    for (int b = 0; b < s.blocksPerFile(); b++) {
                        String id = SasUrls.blockId(b);
                        require(retry(() -> SasUrls.putBlock(HTTP, url, id, block, 0, block.length)), 201, "Put Block");
                        trainer.get("PutBlock").incrementAndGet();
                        ids.add(id);
                    }
                    done = retry(() -> SasUrls.putBlockList(HTTP, url, ids));
                    trainer.get("PutBlockList").incrementAndGet();
                }
                require(done, 201, "write");
                written.add(Map.of("path", path, "size", s.fileBytes(),
                        "etag", done.headers().firstValue("etag").orElseThrow()));
            }
            lastShard.accumulateAndGet(System.nanoTime(), Math::max);
            return written;
        }

        void delete(long step) throws Exception {
            HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/api/runs/" + run + "/checkpoints/"
                    + step + "?force=true")).header("x-functions-key", ADMIN_KEY).DELETE().build());
            if (r.statusCode() >= 300) {
                throw new IllegalStateException("delete answered " + r.statusCode() + ": " + r.body());
            }
        }

        private HttpResponse<String> api(String method, String path, String body) throws Exception {
            HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + "/api/runs/" + run + path))
                    .timeout(Duration.ofMinutes(5)).header("authorization", "Bearer " + token)
                    .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
            if (body != null) {
                b.header("content-type", "application/json");
            }
            return send(b.build());
        }

        private static HttpResponse<String> send(HttpRequest request) throws Exception {
            return retry(() -> HTTP.send(request, HttpResponse.BodyHandlers.ofString()));
        }

        interface Call {
            HttpResponse<String> call() throws Exception;
        }

        /** Once more when a kept-alive connection was closed under the request (Node closes idle ones). */
        private static HttpResponse<String> retry(Call call) throws Exception {
            try {
                return call.call();
            } catch (java.io.IOException e) {
                return call.call();
            }
        }

        private static void require(HttpResponse<String> r, int status, String what) {
            if (r.statusCode() != status) {
                throw new IllegalStateException(what + " answered " + r.statusCode() + ": " + r.body());
            }
        }
    }
}
