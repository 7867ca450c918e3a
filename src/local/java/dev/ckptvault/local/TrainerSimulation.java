package dev.ckptvault.local;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.ParallelTransferOptions;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.json.Json;
import dev.ckptvault.storage.StorageClients;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * A distributed training job against a running ckptvault, through its public HTTP API and the
 * URLs it issues, with nothing but the JDK: N ranks (threads) write M checkpoints in parallel (big
 * shards as parallel Put Block + Put Block List), rank 0 commits each with the eTags the ranks got
 * back; at one step one rank "crashes" after writing part of a wrong shard, and the step is tried
 * again with fresh bytes; then a "restarted job" asks for the latest checkpoint, downloads every
 * file in parallel and checks every byte against the sha256 it wrote.
 *
 * <p>Prints a table of what it measured, including the same bytes written straight with the Azure
 * SDK (account key) in the same run as a baseline, and exits non-zero when anything is wrong.
 *
 * <pre>
 *   --url http://127.0.0.1:7071  --ranks 4  --checkpoints 3  --shard-mib 8  --block-mib 4
 *   --run sim-TIME  --token T (a write token of the run; default CKPT_TOKEN)  --admin-key K (issues
 *   that token when none is given, as a job launcher does)  --storage CONNECTION_STRING (baseline;
 *   default: derived for Azurite from the issued URLs, else CKPT_STORAGE, else skipped)  --timeout-s 120
 *   --ca-cert PEM (trust this certificate too: the one run-local.sh --azure-mode prints)
 * </pre>
 */
public final class TrainerSimulation {
    private static final long MIB = 1024 * 1024;

    /** Settings of one simulation. */
    /**
     * @param token    a write token of the run, or null to have one issued with {@code adminKey}
     * @param adminKey the app's admin key, used only to issue the token (never sent on run routes)
     */
    /** @param caCert a PEM certificate to trust besides the JDK's CAs (the local Azure mode's), or null */
    public record Options(URI url, int ranks, int checkpoints, long shardBytes, long blockBytes, String runId,
                          String token, String adminKey, String storage, Duration timeout, Path caCert) {
        public Options {
            if (ranks < 1 || checkpoints < 1 || shardBytes < 1 || blockBytes < 1) {
                throw new IllegalArgumentException("ranks, checkpoints, shard and block sizes must be positive");
            }
        }

        /** Options trusting the JDK's CAs only. */
        public Options(URI url, int ranks, int checkpoints, long shardBytes, long blockBytes, String runId,
                       String token, String adminKey, String storage, Duration timeout) {
            this(url, ranks, checkpoints, shardBytes, blockBytes, runId, token, adminKey, storage, timeout, null);
        }
    }

    /** What a run found: the table lines and every problem (none = pass). */
    public record Report(List<String[]> rows, List<String> problems) {
        public boolean passed() {
            return problems.isEmpty();
        }

        public String table() {
            int w = rows.stream().mapToInt(r -> r[0].length()).max().orElse(10);
            int v = rows.stream().mapToInt(r -> r[1].length()).max().orElse(10);
            StringBuilder b = new StringBuilder();
            String line = "+" + "-".repeat(w + 2) + "+" + "-".repeat(v + 2) + "+\n";
            b.append(line);
            for (String[] r : rows) {
                b.append(String.format(Locale.ROOT, "| %-" + w + "s | %-" + v + "s |%n", r[0], r[1]));
            }
            b.append(line);
            for (String p : problems) {
                b.append("PROBLEM: ").append(p).append('\n');
            }
            b.append(problems.isEmpty() ? "PASS\n" : "FAIL (" + problems.size() + " problems)\n");
            return b.toString();
        }
    }

    /** One file as written by a rank: what rank 0 puts in the manifest. */
    private record Written(String path, long size, String etag, String sha256, Instant finishedAt) {
    }

    private final Options o;
    private final ExecutorService ranks;
    private final ExecutorService blocks;
    private final List<Double> urlLatenciesMs = Collections.synchronizedList(new ArrayList<>());
    private final List<Double> commitLatenciesMs = new ArrayList<>();
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
    private final Map<Long, Map<String, String>> expectedSha = new LinkedHashMap<>();
    private volatile String blobEndpointSeen;

    private volatile String token;

    private final HttpClient http;

    private TrainerSimulation(Options o) {
        this.o = o;
        HttpClient.Builder b = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10));
        if (o.caCert() != null) {
            try {
                b.sslContext(trusting(o.caCert()));
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read --ca-cert " + o.caCert() + ": " + e.getMessage(), e);
            }
        }
        this.http = b.build();
        this.token = o.token();
        this.ranks = Executors.newFixedThreadPool(o.ranks());
        this.blocks = Executors.newFixedThreadPool(Math.max(4, o.ranks() * 2));
    }

    public static void main(String[] args) {
        LocalDefaults.httpClientKeepAlive();
        // Below Node's 5 s keep-alive timeout, so the client drops idle connections first.
        System.setProperty("jdk.httpclient.keepalive.timeout", "3");
        Options options;
        try {
            options = parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("trainer simulation: " + e.getMessage());
            System.exit(2);
            return;
        }
        Report report = run(options);
        System.out.print(report.table());
        System.exit(report.passed() ? 0 : 1);
    }

    /** Runs the whole simulation; never throws for what the service does wrong, reports it. */
    public static Report run(Options options) {
        TrainerSimulation sim = new TrainerSimulation(options);
        try {
            return sim.simulate();
        } finally {
            sim.ranks.shutdownNow();
            sim.blocks.shutdownNow();
        }
    }

    static Options parse(String[] args) {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("arguments are --name value pairs; got '" + args[i] + "'");
            }
            a.put(args[i].substring(2), args[++i]);
        }
        String run = a.getOrDefault("run", "sim-" + DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")
                .withZone(ZoneOffset.UTC).format(Instant.now()));
        Options o = new Options(URI.create(a.getOrDefault("url", "http://127.0.0.1:7071").replaceAll("/+$", "")),
                Integer.parseInt(a.getOrDefault("ranks", "4")), Integer.parseInt(a.getOrDefault("checkpoints", "3")),
                (long) (Double.parseDouble(a.getOrDefault("shard-mib", "8")) * MIB),
                (long) (Double.parseDouble(a.getOrDefault("block-mib", "4")) * MIB),
                run, a.getOrDefault("token", System.getenv("CKPT_TOKEN")), a.get("admin-key"), a.get("storage"),
                Duration.ofSeconds(Long.parseLong(a.getOrDefault("timeout-s", "120"))),
                a.containsKey("ca-cert") ? Path.of(a.get("ca-cert")) : null);
        a.keySet().removeAll(List.of("url", "ranks", "checkpoints", "shard-mib", "block-mib", "run", "token",
                "admin-key", "storage", "timeout-s", "ca-cert"));
        if (!a.isEmpty()) {
            throw new IllegalArgumentException("unknown options " + a.keySet());
        }
        return o;
    }

    private Report simulate() {
        List<String[]> rows = new ArrayList<>();
        long bytesCommitted = 0;
        double writeSeconds = 0;
        int crashStep = o.checkpoints() >= 2 ? 2 : 1;
        String crashNote = "";
        long lastStep = -1;
        try {
            if (token == null && o.adminKey() != null) {
                token = issueToken();
            }
            for (int c = 1; c <= o.checkpoints(); c++) {
                long step = c * 100L;
                if (c == crashStep) {
                    int crashRank = o.ranks() - 1;
                    long partial = crash(step, crashRank);
                    crashNote = "step " + step + ": rank " + crashRank + " wrote " + partial + " of " + o.shardBytes()
                            + " B, stopped; retried";
                }
                // Bytes and their sha256 exist before the clock starts, as in a trainer whose state is in memory.
                byte[][] data = new byte[o.ranks()][];
                String[] sha = new String[o.ranks()];
                for (int r = 0; r < o.ranks(); r++) {
                    data[r] = bytes(step, r, 2, o.shardBytes());
                    sha[r] = sha256(data[r]);
                }
                long started = System.nanoTime();
                List<Written> files = writeCheckpoint(step, data, sha);
                writeSeconds += (System.nanoTime() - started) / 1e9;
                bytesCommitted += files.stream().mapToLong(Written::size).sum();
                commit(step, files, c);
                lastStep = step;
            }
        } catch (Exception e) {
            problems.add("the run stopped: " + e);
        }
        double resumeMs = -1;
        long resumeBytes = 0;
        double resumeSeconds = 0;
        if (lastStep >= 0 && problems.isEmpty()) {
            long t = System.nanoTime();
            try {
                HttpResponse<String> latest = api("GET", "/api/runs/" + o.runId() + "/checkpoints/latest", null);
                resumeMs = (System.nanoTime() - t) / 1e6;
                long d = System.nanoTime();
                resumeBytes = verifyLatest(latest, lastStep);
                resumeSeconds = (System.nanoTime() - d) / 1e9;
            } catch (Exception e) {
                problems.add("resume failed: " + e);
            }
        }
        String baseline = baseline(bytesCommitted, writeSeconds);
        String counts = finalCounts();

        rows.add(new String[] {"run", o.runId()});
        rows.add(new String[] {"ranks x checkpoints x shard", o.ranks() + " x " + o.checkpoints() + " x "
                + mib(o.shardBytes()) + " (blocks " + mib(o.blockBytes()) + ")"});
        rows.add(new String[] {"bytes written (committed attempts)", mib(bytesCommitted)});
        rows.add(new String[] {"upload via issued URLs", rate(bytesCommitted, writeSeconds)});
        rows.add(new String[] {"same bytes via Azure SDK (account key)", baseline});
        rows.add(new String[] {"URL issue latency p50 / p99 (n=" + urlLatenciesMs.size() + ")",
                ms(percentile(urlLatenciesMs, 50)) + " / " + ms(percentile(urlLatenciesMs, 99))});
        rows.add(new String[] {"commit latency p50 / max (last shard -> COMMITTED)",
                ms(percentile(commitLatenciesMs, 50)) + " / " + ms(percentile(commitLatenciesMs, 100))});
        rows.add(new String[] {"resume lookup latency (GET latest)", ms(resumeMs)});
        rows.add(new String[] {"resume download + sha256 verify", mib(resumeBytes) + " at " + rate(resumeBytes, resumeSeconds)});
        rows.add(new String[] {"crash", crashNote.isEmpty() ? "none" : crashNote});
        rows.add(new String[] {"final index state", counts});
        return new Report(rows, List.copyOf(problems));
    }

    // ---- writing -------------------------------------------------------------------------------

    /** The crashing attempt: every rank asks for URLs, one writes half a shard of wrong bytes and stops. */
    private long crash(long step, int crashRank) throws Exception {
        long partial = o.shardBytes() / 2;
        List<Future<Void>> all = new ArrayList<>();
        for (int r = 0; r < o.ranks(); r++) {
            int rank = r;
            all.add(ranks.submit(() -> {
                String url = issueUrls(step, rank).get(path(rank));
                byte[] data = bytes(step, rank, 1, rank == crashRank ? partial : o.shardBytes());
                putBlob(url, data);
                return null;
            }));
        }
        for (Future<Void> f : all) {
            f.get();
        }
        return partial;
    }

    /** Every rank asks for its URL and writes its shard, in parallel: the timed data path. */
    private List<Written> writeCheckpoint(long step, byte[][] data, String[] sha) throws Exception {
        List<Future<Written>> all = new ArrayList<>();
        for (int r = 0; r < o.ranks(); r++) {
            int rank = r;
            all.add(ranks.submit(() -> {
                String url = issueUrls(step, rank).get(path(rank));
                byte[] d = data[rank];
                String etag = d.length > o.blockBytes() ? putBlocks(url, d) : putBlob(url, d);
                return new Written(path(rank), d.length, etag, sha[rank], Instant.now());
            }));
        }
        List<Written> files = new ArrayList<>();
        for (Future<Written> f : all) {
            files.add(f.get());
        }
        Map<String, String> byPath = new LinkedHashMap<>();
        files.forEach(w -> byPath.put(w.path(), w.sha256()));
        expectedSha.put(step, byPath);
        return files;
    }

    private static String path(int rank) {
        return String.format(Locale.ROOT, "rank-%05d/shard.safetensors", rank);
    }

    /** Deterministic bytes per step, rank and attempt: a retried attempt writes different content. */
    private byte[] bytes(long step, int rank, int attempt, long size) {
        byte[] b = new byte[Math.toIntExact(size)];
        SplittableRandom random = new SplittableRandom(o.runId().hashCode() * 31L + step * 1_000_003L + rank * 7919L + attempt);
        for (int i = 0; i < b.length; i += 8) {
            long v = random.nextLong();
            for (int k = 0; k < 8 && i + k < b.length; k++) {
                b[i + k] = (byte) (v >>> (8 * k));
            }
        }
        return b;
    }

    private Map<String, String> issueUrls(long step, int rank) throws IOException, InterruptedException {
        String body = Json.write(Map.of("files", List.of(Map.of("path", path(rank), "size", o.shardBytes()))));
        long t = System.nanoTime();
        HttpResponse<String> r = api("POST", "/api/runs/" + o.runId() + "/checkpoints/" + step + "/uploads", body);
        urlLatenciesMs.add((System.nanoTime() - t) / 1e6);
        if (r.statusCode() != 200) {
            throw new IllegalStateException("uploads for step " + step + " rank " + rank + " answered "
                    + r.statusCode() + ": " + r.body());
        }
        Map<String, String> urls = new LinkedHashMap<>();
        for (JsonNode u : Json.parse(r.body(), "uploads answer").get("uploads")) {
            urls.put(u.get("path").asText(), u.get("url").asText());
        }
        blobEndpointSeen = urls.values().iterator().next();
        return urls;
    }

    private String putBlob(String url, byte[] data) throws IOException, InterruptedException {
        return etagOf(SasUrls.putBlob(http, url, data), "Put Blob");
    }

    private String putBlocks(String url, byte[] data) throws Exception {
        List<Future<String>> parts = new ArrayList<>();
        int n = (int) ((data.length + o.blockBytes() - 1) / o.blockBytes());
        for (int i = 0; i < n; i++) {
            int from = (int) (i * o.blockBytes());
            int to = (int) Math.min(data.length, from + o.blockBytes());
            String id = SasUrls.blockId(i);
            parts.add(blocks.submit((Callable<String>) () -> {
                HttpResponse<String> r = SasUrls.putBlock(http, url, id, data, from, to - from);
                if (r.statusCode() != 201) {
                    throw new IllegalStateException("Put Block answered " + r.statusCode() + ": " + r.body());
                }
                return id;
            }));
        }
        List<String> ids = new ArrayList<>();
        for (Future<String> p : parts) {
            ids.add(p.get());
        }
        return etagOf(SasUrls.putBlockList(http, url, ids), "Put Block List");
    }

    private static String etagOf(HttpResponse<String> r, String what) {
        if (r.statusCode() != 201) {
            throw new IllegalStateException(what + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.headers().firstValue("etag").orElseThrow(() -> new IllegalStateException(what + " gave no ETag"));
    }

    // ---- commit --------------------------------------------------------------------------------

    private void commit(long step, List<Written> files, int index) throws Exception {
        Instant lastShard = files.stream().map(Written::finishedAt).max(Instant::compareTo).orElseThrow();
        List<Map<String, Object>> manifestFiles = new ArrayList<>();
        for (Written w : files) {
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("path", w.path());
            f.put("size", w.size());
            f.put("etag", w.etag());
            f.put("sha256", w.sha256());
            manifestFiles.add(f);
        }
        String body = Json.write(Map.of("step", step, "files", manifestFiles,
                "metrics", Map.of("loss", 2.0 / index)));
        HttpResponse<String> r = api("POST", "/api/runs/" + o.runId() + "/checkpoints/" + step + "/commit", body);
        if (r.statusCode() != 200 && r.statusCode() != 202) {
            problems.add("commit of step " + step + " answered " + r.statusCode() + ": " + r.body());
            return;
        }
        Instant deadline = Instant.now().plus(o.timeout());
        while (true) {
            HttpResponse<String> g = api("GET", "/api/runs/" + o.runId() + "/checkpoints/" + step, null);
            String state = g.statusCode() == 200 ? Json.parse(g.body(), "checkpoint").path("state").asText() : "";
            if (state.equals("COMMITTED")) {
                commitLatenciesMs.add(Duration.between(lastShard, Instant.now()).toNanos() / 1e6);
                return;
            }
            if (Instant.now().isAfter(deadline)) {
                problems.add("step " + step + " not COMMITTED within " + o.timeout().toSeconds() + " s; last answer "
                        + g.statusCode() + ": " + g.body());
                return;
            }
            Thread.sleep(100);
        }
    }

    // ---- resume --------------------------------------------------------------------------------

    private long verifyLatest(HttpResponse<String> latest, long lastStep) throws Exception {
        if (latest.statusCode() != 200) {
            problems.add("GET latest answered " + latest.statusCode() + ": " + latest.body());
            return 0;
        }
        JsonNode c = Json.parse(latest.body(), "latest");
        if (c.path("step").asLong() != lastStep) {
            problems.add("latest is step " + c.path("step").asLong() + ", expected " + lastStep);
            return 0;
        }
        Map<String, String> expected = expectedSha.get(lastStep);
        if (c.path("files").size() != expected.size()) {
            problems.add("latest lists " + c.path("files").size() + " files, expected " + expected.size());
        }
        List<Future<Long>> downloads = new ArrayList<>();
        for (JsonNode f : c.path("files")) {
            String path = f.path("path").asText();
            String url = f.path("url").asText(null);
            String manifestSha = f.path("sha256").asText(null);
            downloads.add(ranks.submit(() -> {
                if (url == null) {
                    problems.add("latest gave no read URL for " + path);
                    return 0L;
                }
                HttpResponse<byte[]> r = send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                if (r.statusCode() != 200) {
                    problems.add("download of " + path + " answered " + r.statusCode());
                    return 0L;
                }
                String sha = sha256(r.body());
                if (!sha.equals(expected.get(path))) {
                    problems.add(path + ": downloaded bytes differ from what the last attempt wrote (sha256 " + sha + ")");
                }
                if (manifestSha != null && !manifestSha.equals(sha)) {
                    problems.add(path + ": sha256 in the checkpoint answer does not match the bytes");
                }
                return (long) r.body().length;
            }));
        }
        long total = 0;
        for (Future<Long> d : downloads) {
            total += d.get();
        }
        return total;
    }

    private String finalCounts() {
        try {
            HttpResponse<String> r = api("GET", "/api/runs/" + o.runId(), null);
            if (r.statusCode() != 200) {
                problems.add("GET run answered " + r.statusCode() + ": " + r.body());
                return "unknown";
            }
            JsonNode counts = Json.parse(r.body(), "run").path("counts");
            StringBuilder b = new StringBuilder();
            counts.fields().forEachRemaining(e -> {
                if (e.getValue().asLong() > 0) {
                    b.append(b.length() == 0 ? "" : ", ").append(e.getKey()).append('=').append(e.getValue().asLong());
                }
            });
            if (counts.path("COMMITTED").asLong() != o.checkpoints()) {
                problems.add("the index counts " + counts.path("COMMITTED").asLong() + " COMMITTED checkpoints, expected "
                        + o.checkpoints());
            }
            return b.length() == 0 ? "(empty)" : b.toString();
        } catch (Exception e) {
            problems.add("GET run failed: " + e);
            return "unknown";
        }
    }

    // ---- baseline ------------------------------------------------------------------------------

    /** Writes the same amount of bytes, rank-parallel, with the SDK and the account key; returns "rate (ratio)". */
    private String baseline(long bytes, double urlSeconds) {
        String cs = o.storage() != null ? o.storage() : emulatorConnectionString();
        if (cs == null) {
            cs = System.getenv("CKPT_STORAGE");
        }
        if (cs == null || bytes == 0) {
            return "skipped (give --storage)";
        }
        StorageSettings settings = StorageSettings.connectionString(cs);
        BlobServiceClientBuilder builder = new BlobServiceClientBuilder().connectionString(settings.effectiveConnectionString());
        if (o.caCert() != null) {
            builder.httpClient(sdkClientTrusting(o.caCert()));
        }
        if (settings.isEmulator()) {
            builder.serviceVersion(StorageClients.EMULATOR_BLOB_VERSION);
        }
        BlobContainerClient container = builder.buildClient()
                .getBlobContainerClient("ckptvault-sim-baseline-" + Math.abs(o.runId().hashCode() % 100000));
        try {
            container.createIfNotExists();
            int perCheckpoint = o.ranks();
            int shards = (int) (bytes / o.shardBytes());
            double seconds = 0;
            for (int c = 0; c * perCheckpoint < shards; c++) {
                int checkpoint = c;
                byte[][] data = new byte[perCheckpoint][];
                for (int r = 0; r < perCheckpoint; r++) {
                    data[r] = bytes(checkpoint, r, 9, o.shardBytes());
                }
                long started = System.nanoTime();
                List<Future<Void>> all = new ArrayList<>();
                for (int r = 0; r < perCheckpoint; r++) {
                    int rank = r;
                    all.add(ranks.submit(() -> {
                        container.getBlobClient(checkpoint + "/" + path(rank)).uploadWithResponse(
                                new BlobParallelUploadOptions(BinaryData.fromBytes(data[rank]))
                                        .setParallelTransferOptions(new ParallelTransferOptions()
                                                .setBlockSizeLong(o.blockBytes()).setMaxSingleUploadSizeLong(o.blockBytes())
                                                .setMaxConcurrency(Math.max(2, (int) (o.shardBytes() / o.blockBytes())))),
                                null, null);
                        return null;
                    }));
                }
                for (Future<Void> f : all) {
                    f.get();
                }
                seconds += (System.nanoTime() - started) / 1e9;
            }
            double ratio = (bytes / urlSeconds) / (bytes / seconds);
            return rate(bytes, seconds) + String.format(Locale.ROOT, " (URLs/SDK %.2f)", ratio);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } catch (ExecutionException | RuntimeException e) {
            return "failed: " + e.getMessage();
        } finally {
            try {
                container.deleteIfExists();
            } catch (RuntimeException ignored) {
                // The baseline container is scratch; a leftover does not affect the app.
            }
        }
    }

    /** Azurite's well-known account, at the blob endpoint the issued URLs point to. */
    private String emulatorConnectionString() {
        if (blobEndpointSeen == null) {
            return null;
        }
        URI u = URI.create(blobEndpointSeen);
        boolean loopback = u.getHost().equals("127.0.0.1") || u.getHost().equals("localhost");
        if (!loopback || !u.getPath().startsWith("/" + StorageSettings.EMULATOR_ACCOUNT + "/")) {
            return null;
        }
        return "DefaultEndpointsProtocol=http;AccountName=" + StorageSettings.EMULATOR_ACCOUNT + ";AccountKey="
                + StorageSettings.EMULATOR_KEY + ";BlobEndpoint=" + u.getScheme() + "://" + u.getHost() + ":" + u.getPort()
                + "/" + StorageSettings.EMULATOR_ACCOUNT + ";";
    }

    // ---- helpers -------------------------------------------------------------------------------

    private HttpResponse<String> api(String method, String path, String body) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(o.url() + path)).timeout(Duration.ofMinutes(2))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** What a job launcher does: the admin key buys one write token of the run, handed to every rank. */
    private String issueToken() throws IOException, InterruptedException {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(o.url() + "/api/manage/runs/" + o.runId()
                        + "/tokens")).timeout(Duration.ofMinutes(2)).header("Content-Type", "application/json")
                .header("x-functions-key", o.adminKey())
                .POST(HttpRequest.BodyPublishers.ofString("{\"scope\":\"write\",\"ttlMinutes\":120}")).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IllegalStateException("issuing a write token answered " + r.statusCode() + ": " + r.body());
        }
        return Json.parse(r.body(), "token").get("token").asText();
    }

    /**
     * Sends once more when the connection broke before an answer: Node (Azurite) closes idle
     * keep-alive connections after 5 s and the JDK client may pick one just then. Every call of
     * the simulation may be repeated (same bytes to the same blob or block, uploads and commit are
     * idempotent by contract).
     */
    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
            throws IOException, InterruptedException {
        try {
            return http.send(request, handler);
        } catch (IOException e) {
            return http.send(request, handler);
        }
    }

    /** A TLS context trusting the JDK's CAs and the given certificate. */
    private static javax.net.ssl.SSLContext trusting(Path caCert) throws IOException {
        try {
            java.security.KeyStore store = java.security.KeyStore.getInstance(java.security.KeyStore.getDefaultType());
            store.load(null, null);
            javax.net.ssl.TrustManagerFactory jdk = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            jdk.init((java.security.KeyStore) null);
            int n = 0;
            for (javax.net.ssl.TrustManager tm : jdk.getTrustManagers()) {
                if (tm instanceof javax.net.ssl.X509TrustManager x) {
                    for (java.security.cert.X509Certificate c : x.getAcceptedIssuers()) {
                        store.setCertificateEntry("jdk-" + n++, c);
                    }
                }
            }
            store.setCertificateEntry("ca-cert", LocalTls.read(caCert));
            javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                    javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(store);
            javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
            ssl.init(null, tmf.getTrustManagers(), null);
            return ssl;
        } catch (java.security.GeneralSecurityException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    private static com.azure.core.http.HttpClient sdkClientTrusting(Path caCert) {
        try {
            io.netty.handler.ssl.SslContext ssl = io.netty.handler.ssl.SslContextBuilder.forClient()
                    .trustManager(LocalTls.read(caCert)).build();
            return new com.azure.core.http.netty.NettyAsyncHttpClientBuilder(
                    reactor.netty.http.client.HttpClient.create().secure(spec -> spec.sslContext(ssl))).build();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + caCert + ": " + e.getMessage(), e);
        }
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static double percentile(List<Double> values, double p) {
        if (values.isEmpty()) {
            return -1;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int i = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    private static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) MIB);
    }

    private static String rate(long bytes, double seconds) {
        return seconds <= 0 ? "n/a" : String.format(Locale.ROOT, "%.1f MiB/s", bytes / (double) MIB / seconds);
    }

    private static String ms(double v) {
        return v < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f ms", v);
    }
}
