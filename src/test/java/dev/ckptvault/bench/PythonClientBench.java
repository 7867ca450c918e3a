package dev.ckptvault.bench;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobClientBuilder;
import com.azure.storage.blob.models.ParallelTransferOptions;
import com.azure.storage.blob.options.BlobDownloadToFileOptions;
import com.azure.storage.blob.options.BlobUploadFromFileOptions;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.LocalHostProcess;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * Upload and download MiB/s through issued URLs, of the Java SDK (a BlobClient from the issued
 * SAS URL) and of the Python client (clients/python/bench.py), against the baseline of the same
 * bytes written with the Java SDK and the account key (no app), same block size and parallelism,
 * in the same run, through the local host. The URL variants include the uploads call (and the
 * Python client its sha256). -Dbench.python.mib (default 64; Azurite in memory holds 1 GiB),
 * -Dbench.python.rounds (default 3), CKPT_PYTHON (default python3).
 */
final class PythonClientBench {
    private static final long MiB = 1 << 20;
    private static final int BLOCK_MIB = 8;
    private static final int WORKERS = 8;

    private PythonClientBench() {
    }

    static void run(BenchMain.Rounds ignored) throws Exception {
        int mib = Integer.getInteger("bench.python.mib", 64);
        int rounds = Integer.getInteger("bench.python.rounds", 3);
        String python = System.getenv().getOrDefault("CKPT_PYTHON", "python3");
        Path dir = Files.createTempDirectory("ckptvault-pybench");
        Path data = dir.resolve("data.bin");
        try (OutputStream out = Files.newOutputStream(data)) {
            Random random = new Random(42);
            byte[] chunk = new byte[(int) MiB];
            for (int i = 0; i < mib; i++) {
                random.nextBytes(chunk);
                out.write(chunk);
            }
        }
        double[][] java = new double[2][rounds];
        double[][] py = new double[2][rounds];
        double[][] key = new double[2][rounds];
        try (LocalHostProcess host = LocalHostProcess.start("python-client-bench-host.log")) {
            HttpClient http = HttpClient.newHttpClient();
            String run = "pybench-" + System.currentTimeMillis();
            String api = host.baseUrl() + "/api/runs/" + run;
            // As a job launcher: the admin key issues one write token of the run; both clients send only it.
            String token = call(http, "POST", host.baseUrl() + "/api/manage/runs/" + run + "/tokens",
                    "{\"scope\":\"write\",\"ttlMinutes\":240}", "x-functions-key", host.adminKey()).get("token").asText();
            int step = 0;
            for (int r = -1; r < rounds; r++) { // round -1 warms both up
                step++;
                double[] j = javaSdk(http, api, token, step, data, dir.resolve("java-" + step + ".bin"));
                step++;
                double[] p = pythonClient(python, host.baseUrl(), run, token, step, data);
                double[] a = accountKey(lastUrl, step, data, dir.resolve("key-" + step + ".bin"));
                if (r >= 0) {
                    for (int k = 0; k < 2; k++) {
                        java[k][r] = mib / j[k];
                        py[k][r] = mib / p[k];
                        key[k][r] = mib / a[k];
                    }
                }
                Files.deleteIfExists(dir.resolve("key-" + step + ".bin"));
                Files.deleteIfExists(dir.resolve("java-" + step + ".bin"));
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(dir);
        }
        System.out.printf(Locale.ROOT, "%d MiB, %d MiB blocks, %d in parallel, %d rounds (median MiB/s)%n",
                mib, BLOCK_MIB, WORKERS, rounds);
        String header = String.format(Locale.ROOT, "%-40s  %12s  %14s  %12s", "variant", "upload MiB/s",
                "download MiB/s", "vs account key");
        System.out.println(header);
        System.out.println("-".repeat(header.length()));
        double baseUp = median(key[0]);
        double baseDown = median(key[1]);
        row("Java SDK, account key (baseline)", baseUp, baseDown, baseUp, baseDown);
        row("Java SDK through issued URLs", median(java[0]), median(java[1]), baseUp, baseDown);
        row("Python client (stdlib), issued URLs", median(py[0]), median(py[1]), baseUp, baseDown);
        Summary.put("upload_account_key_mibps", baseUp);
        Summary.put("upload_java_mibps", median(java[0]));
        Summary.put("upload_python_mibps", median(py[0]));
        Summary.put("upload_ratio_java", median(java[0]) / baseUp);
        Summary.put("upload_ratio_python", median(py[0]) / baseUp);
        Summary.put("download_ratio_java", median(java[1]) / baseDown);
        Summary.put("download_ratio_python", median(py[1]) / baseDown);
        String base = String.format(Locale.ROOT, "Java SDK with the account key %.1f MiB/s", baseUp);
        Summary.row("upload through issued URLs, Java SDK (" + mib + " MiB, " + BLOCK_MIB + " MiB blocks, " + WORKERS
                + " parallel, uploads call included)", "upload_ratio_java",
                String.format(Locale.ROOT, "%.1f MiB/s", median(java[0])), base, Summary.x(median(java[0]) / baseUp),
                null, null);
        Summary.row("upload through issued URLs, Python client (same bytes, blocks, parallelism)", "upload_ratio_python",
                String.format(Locale.ROOT, "%.1f MiB/s", median(py[0])), base, Summary.x(median(py[0]) / baseUp),
                null, null);
    }

    private static volatile String lastUrl;

    /**
     * The baseline: the same bytes with the SDK and Azurite's account key, same block size and
     * parallelism, no app involved (the blob endpoint is the one the issued URLs name).
     */
    private static double[] accountKey(String issuedUrl, int step, Path data, Path dest) throws Exception {
        URI u = URI.create(issuedUrl);
        String cs = "DefaultEndpointsProtocol=http;AccountName=" + dev.ckptvault.config.StorageSettings.EMULATOR_ACCOUNT
                + ";AccountKey=" + dev.ckptvault.config.StorageSettings.EMULATOR_KEY + ";BlobEndpoint=" + u.getScheme()
                + "://" + u.getHost() + ":" + u.getPort() + "/" + dev.ckptvault.config.StorageSettings.EMULATOR_ACCOUNT + ";";
        var container = new com.azure.storage.blob.BlobServiceClientBuilder().connectionString(cs)
                .serviceVersion(dev.ckptvault.storage.StorageClients.EMULATOR_BLOB_VERSION).buildClient()
                .getBlobContainerClient("pybench-baseline");
        container.createIfNotExists();
        BlobClient blob = container.getBlobClient("step-" + step + "/data.bin");
        ParallelTransferOptions parallel = new ParallelTransferOptions().setBlockSizeLong(BLOCK_MIB * MiB)
                .setMaxSingleUploadSizeLong(BLOCK_MIB * MiB).setMaxConcurrency(WORKERS);
        long t0 = System.nanoTime();
        blob.uploadFromFileWithResponse(new BlobUploadFromFileOptions(data.toString()).setParallelTransferOptions(parallel),
                null, null);
        double upload = (System.nanoTime() - t0) / 1e9;
        t0 = System.nanoTime();
        blob.downloadToFileWithResponse(new BlobDownloadToFileOptions(dest.toString())
                .setParallelTransferOptions(new com.azure.storage.common.ParallelTransferOptions()
                        .setBlockSizeLong(BLOCK_MIB * MiB).setMaxConcurrency(WORKERS)), null, null);
        double download = (System.nanoTime() - t0) / 1e9;
        blob.delete();
        return new double[] {upload, download};
    }

    private static void row(String name, double up, double down, double baseUp, double baseDown) {
        System.out.printf(Locale.ROOT, "%-40s  %12.1f  %14.1f  %5.2fx/%5.2fx%n", name, up, down, up / baseUp,
                down / baseDown);
    }

    private static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    /** Seconds to upload (uploads call + SDK upload) and to download (checkpoint call + SDK download). */
    private static double[] javaSdk(HttpClient http, String api, String token, int step, Path data, Path dest)
            throws Exception {
        String[] auth = {"authorization", "Bearer " + token};
        ParallelTransferOptions parallel = new ParallelTransferOptions().setBlockSizeLong(BLOCK_MIB * MiB)
                .setMaxSingleUploadSizeLong(BLOCK_MIB * MiB).setMaxConcurrency(WORKERS);
        long size = Files.size(data);
        long t0 = System.nanoTime();
        JsonNode uploads = call(http, "POST", api + "/checkpoints/" + step + "/uploads",
                "{\"files\":[{\"path\":\"data.bin\",\"size\":" + size + "}]}", auth);
        lastUrl = uploads.at("/uploads/0/url").asText();
        BlobClient writer = new BlobClientBuilder().endpoint(lastUrl).buildClient();
        String etag = writer.uploadFromFileWithResponse(new BlobUploadFromFileOptions(data.toString())
                .setParallelTransferOptions(parallel), null, null).getValue().getETag();
        double upload = (System.nanoTime() - t0) / 1e9;
        call(http, "POST", api + "/checkpoints/" + step + "/commit", "{\"step\":" + step
                + ",\"files\":[{\"path\":\"data.bin\",\"size\":" + size + ",\"etag\":" + Json.MAPPER.writeValueAsString(etag) + "}]}",
                auth);
        t0 = System.nanoTime();
        JsonNode checkpoint = call(http, "GET", api + "/checkpoints/" + step + "?downloads=true", null, auth);
        BlobClient reader = new BlobClientBuilder().endpoint(checkpoint.at("/files/0/url").asText()).buildClient();
        reader.downloadToFileWithResponse(new BlobDownloadToFileOptions(dest.toString())
                .setParallelTransferOptions(new com.azure.storage.common.ParallelTransferOptions()
                        .setBlockSizeLong(BLOCK_MIB * MiB).setMaxConcurrency(WORKERS)), null, null);
        return new double[] {upload, (System.nanoTime() - t0) / 1e9};
    }

    /** The token goes in CKPT_TOKEN, where the Python client reads it from (never on a command line). */
    private static double[] pythonClient(String python, String baseUrl, String runId, String token, int step, Path data)
            throws Exception {
        ProcessBuilder pb = new ProcessBuilder(python, "clients/python/bench.py", "--base-url", baseUrl, "--file",
                data.toString(), "--run-id", runId, "--step", Integer.toString(step), "--block-mib",
                Integer.toString(BLOCK_MIB), "--workers", Integer.toString(WORKERS))
                .directory(AzuriteExtension.projectDir().toFile()).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("CKPT_TOKEN", token);
        Process p = pb.start();
        String line;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            line = out.readLine();
        }
        if (p.waitFor() != 0 || line == null) {
            throw new IllegalStateException("bench.py failed (exit " + p.exitValue() + ")");
        }
        JsonNode r = Json.MAPPER.readTree(line);
        return new double[] {r.get("uploadSeconds").asDouble(), r.get("downloadSeconds").asDouble()};
    }

    private static JsonNode call(HttpClient http, String method, String url, String body, String... headers)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).header("content-type", "application/json");
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() >= 300) {
            throw new IllegalStateException(method + " " + url + " -> " + resp.statusCode() + " " + resp.body());
        }
        return Json.MAPPER.readTree(resp.body());
    }
}
