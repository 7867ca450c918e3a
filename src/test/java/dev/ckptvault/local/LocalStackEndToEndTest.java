package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.ckptvault.json.Json;

/**
 * The whole local stack as a user runs it: its own Azurite, the app's real functions through the
 * FunctionInstanceInjector, the event watcher, and a small trainer simulation over real HTTP.
 */
class LocalStackEndToEndTest {
    private static LocalStack.Options options(Path data, Optional<String> functionKey) {
        return new LocalStack.Options(0, data, null, functionKey, Optional.of("admin-key-e2e"),
                AzuriteExtension.projectDir(), Duration.ofMillis(200));
    }

    @Test
    void aSimulatedTrainingRunCommitsCrashesRetriesAndResumesThroughTheLocalStack() throws Exception {
        try (LocalStack stack = LocalStack.start(options(null, Optional.of("fn-key-e2e")), Map.of())) {
            String url = "http://127.0.0.1:" + stack.port();
            assertEquals(401, Http.get(url + "/api/runs").statusCode(), "admin routes need the admin key");

            // As a launcher: the admin key issues a write token, the ranks send only the token.
            TrainerSimulation.Report report = TrainerSimulation.run(new TrainerSimulation.Options(URI.create(url), 3, 3,
                    1024 * 1024, 256 * 1024, "e2e-run", null, "admin-key-e2e", null, Duration.ofSeconds(120)));
            System.out.print(report.table());
            assertTrue(report.passed(), report.problems().toString());
            assertTrue(report.rows().stream().anyMatch(r -> r[0].equals("final index state") && r[1].equals("COMMITTED=3")),
                    report.table());

            HttpResponse<String> health = Http.get(url + "/api/health");
            assertEquals(200, health.statusCode(), health.body());
            assertNotNull(Json.parse(health.body(), "health").get("lastEventAt"),
                    "the watcher's events reached the app: " + health.body());
            // One more poll after the last commit: nothing open is watched any more; the committed
            // checkpoints are, while a write URL issued before their commit may still be alive.
            stack.watcher().pollOnce();
            assertEquals(3, stack.watcher().watched().size(), stack.watcher().watched().toString());
            String reader = Http.issueToken(url, "admin-key-e2e", "e2e-run", "read");
            for (dev.ckptvault.layout.CheckpointId id : stack.watcher().watched()) {
                HttpResponse<String> c = Http.get(url + "/api/runs/" + id.run() + "/checkpoints/" + id.step(), reader);
                assertEquals("COMMITTED", Json.parse(c.body(), "checkpoint").get("state").asText(), c.body());
            }

            // Microsoft's documented sample, posted by hand to the real BlobEvents function behind the
            // webhook: a blob of another account is acknowledged (202), not retried.
            String sample = EventGridWebhookTest.sample("blob-created.eventgrid.json");
            HttpResponse<String> hook = Http.send(java.net.http.HttpRequest.newBuilder(URI.create(url
                            + EventGridWebhook.PATH + "?functionName=BlobEvents&code=admin-key-e2e"))
                    .header("aeg-event-type", "Notification").header("Content-Type", "application/json")
                    .POST(java.net.http.HttpRequest.BodyPublishers.ofString(sample)).build());
            assertEquals(202, hook.statusCode(), hook.body());

            HttpResponse<String> missing = Http.get(url + "/api/no/such/route");
            assertEquals(404, missing.statusCode());
            assertEquals("NotFound", Json.parse(missing.body(), "r").get("error").get("code").asText());
        }
    }

    @Test
    void withoutAnAdminKeyTheStackMakesOneAndLogsWhereItIsButNotTheKey() throws Exception {
        List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
        java.util.logging.Handler capture = new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                logged.add(r.getMessage());
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        java.util.logging.Logger.getLogger("dev.ckptvault").addHandler(capture);
        try (LocalStack stack = LocalStack.start(new LocalStack.Options(0, null, null, Optional.empty(), Optional.empty(),
                AzuriteExtension.projectDir(), Duration.ofMillis(200)), Map.of())) {
            Path file = stack.adminKeyFile().orElseThrow();
            String key = Files.readString(file).strip();
            String url = "http://127.0.0.1:" + stack.port();
            assertEquals(401, Http.get(url + "/api/runs").statusCode());
            assertEquals(200, Http.send(java.net.http.HttpRequest.newBuilder(URI.create(url + "/api/runs"))
                    .header("x-functions-key", key).build()).statusCode(), "the key in the file opens admin routes");
            String all = String.join("\n", logged);
            assertTrue(all.contains(file.toString()), "the log says where the key is: " + all);
            assertFalse(all.contains(key), "the log never contains the key");
        } finally {
            java.util.logging.Logger.getLogger("dev.ckptvault").removeHandler(capture);
        }
    }

    @Test
    void localMainPrintsOneReadyLineAndStopsAzuriteOnSigterm(@TempDir Path data) throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(javaBin.toString(), "-cp", System.getProperty("java.class.path"),
                "-Dckptvault.projectDir=" + AzuriteExtension.projectDir(), LocalMain.class.getName(),
                "--port", "0", "--data", data.resolve("azurite").toString());
        pb.environment().remove("CKPT_STORAGE");
        pb.redirectError(ProcessBuilder.Redirect.DISCARD);
        Process p = pb.start();
        try {
            // Every line of standard output, read until the process closes it.
            List<String> lines = new java.util.concurrent.CopyOnWriteArrayList<>();
            CompletableFuture<String> first = new CompletableFuture<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l = out.readLine(); l != null; l = out.readLine()) {
                        lines.add(l);
                        first.complete(l);
                    }
                } catch (java.io.IOException ignored) {
                    // The process ended.
                }
                first.complete(null);
            });
            reader.start();
            String line = first.get(120, TimeUnit.SECONDS);
            assertNotNull(line, "LocalMain printed nothing");
            assertTrue(line.matches("ckptvault ready on http://127\\.0\\.0\\.1:\\d+"), line);
            String url = line.substring("ckptvault ready on ".length());
            assertEquals(200, Http.get(url + "/api/health").statusCode());
            assertTrue(Files.isDirectory(data.resolve("azurite")), "Azurite keeps its data in the --data folder");
            List<ProcessHandle> children = p.descendants().toList();
            assertFalse(children.isEmpty(), "Azurite runs as a child process");

            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "LocalMain did not stop on SIGTERM");
            for (ProcessHandle child : children) {
                child.onExit().get(30, TimeUnit.SECONDS);
                assertFalse(child.isAlive(), "Azurite outlived LocalMain");
            }
            reader.join(30_000);
            assertEquals(List.of(line), lines, "exactly one line on standard output");
        } finally {
            p.destroyForcibly();
        }
    }
}
