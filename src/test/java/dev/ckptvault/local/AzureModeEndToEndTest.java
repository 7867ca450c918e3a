package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.LocalHostProcess;
import java.io.IOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole stack in Azure mode ({@code run-local.sh --azure-mode}) as a user runs it: the app in
 * its own process with exactly infra/'s settings and only a user-assigned managed identity,
 * Azurite over HTTPS taking bearer tokens, the app's API over HTTPS, outgoing events to an Event
 * Grid topic that accepts only the app's identity. Every client here trusts the printed
 * certificate and nothing else.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AzureModeEndToEndTest {
    static LocalHostProcess host;
    static HttpClient https;
    static String url;

    @BeforeAll
    static void startAzureMode() throws Exception {
        host = LocalHostProcess.startAzureMode("azure-mode-e2e-host.log");
        url = host.baseUrl();
        https = HttpClient.newBuilder().sslContext(LocalTls.clientContext(host.certificate()))
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (host != null) {
            host.close();
        }
    }

    // ---- a trainer's calls, over HTTPS ---------------------------------------------------------

    static HttpResponse<String> call(String method, String path, String body, String header, String value)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (header != null) {
            b.header(header, value);
        }
        return https.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> admin(String method, String path, String body) throws Exception {
        return call(method, path, body, "x-functions-key", host.adminKey());
    }

    static HttpResponse<String> withToken(String method, String path, String body, String token) throws Exception {
        return call(method, path, body, "Authorization", "Bearer " + token);
    }

    static String token(String run) throws Exception {
        HttpResponse<String> r = admin("POST", "/api/manage/runs/" + run + "/tokens", "{\"scope\":\"write\",\"ttlMinutes\":60}");
        assertEquals(200, r.statusCode(), r.body());
        return Json.parse(r.body(), "token").get("token").asText();
    }

    static String writeUrl(String run, long step, String path, String token) throws Exception {
        HttpResponse<String> r = withToken("POST", "/api/runs/" + run + "/checkpoints/" + step + "/uploads",
                "{\"files\":[{\"path\":\"" + path + "\"}]}", token);
        assertEquals(200, r.statusCode(), r.body());
        return Json.parse(r.body(), "uploads").get("uploads").get(0).get("url").asText();
    }

    /** Uploads one file through its write URL and commits it; answers the commit's body. */
    static JsonNode commitOneFile(String run, long step, String token) throws Exception {
        String u = writeUrl(run, step, "model.bin", token);
        byte[] data = ("weights of " + run + " at " + step).getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> put = https.send(HttpRequest.newBuilder(URI.create(u)).header("x-ms-blob-type", "BlockBlob")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        String etag = put.headers().firstValue("ETag").orElseThrow();
        HttpResponse<String> commit = withToken("POST", "/api/runs/" + run + "/checkpoints/" + step + "/commit",
                "{\"step\":" + step + ",\"files\":[{\"path\":\"model.bin\",\"size\":" + data.length + ",\"etag\":"
                        + Json.write(etag) + "}]}", token);
        assertEquals(200, commit.statusCode(), commit.body());
        JsonNode c = Json.parse(commit.body(), "commit");
        assertEquals("COMMITTED", c.get("state").asText(), commit.body());
        return c;
    }

    static Map<String, String> query(String u) {
        Map<String, String> q = new HashMap<>();
        for (String part : URI.create(u).getRawQuery().split("&")) {
            int eq = part.indexOf('=');
            q.put(part.substring(0, eq), URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return q;
    }

    /** The events file the local topic appends to: next to the certificate's folder. */
    static Path eventsFile() {
        return host.certificate().getParent().getParent().resolve(AzureMode.EVENTS_FILE);
    }

    /** Waits (60 s at most) for the topic to have accepted an event that matches. */
    static JsonNode awaitEvent(Predicate<JsonNode> wanted, String what) throws Exception {
        Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
        while (true) {
            if (Files.exists(eventsFile())) {
                for (String line : Files.readAllLines(eventsFile())) {
                    JsonNode e = Json.parse(line, "event");
                    if (wanted.test(e)) {
                        return e;
                    }
                }
            }
            if (Instant.now().isAfter(deadline)) {
                throw new AssertionError("the Event Grid topic accepted no " + what + " within 60 s; what it got: "
                        + (Files.exists(eventsFile()) ? Files.readString(eventsFile()) : "nothing") + "; host log: "
                        + host.log());
            }
            Thread.sleep(100);
        }
    }

    // ---- tests ---------------------------------------------------------------------------------

    @Test
    @Order(1)
    void aSimulatedTrainingRunCommitsCrashesRetriesAndResumesOverHttpsWithTheAppsIdentity() throws Exception {
        assertTrue(url.startsWith("https://127.0.0.1:"), url);
        TrainerSimulation.Report report = TrainerSimulation.run(new TrainerSimulation.Options(URI.create(url), 3, 3,
                1024 * 1024, 256 * 1024, "azure-e2e-run", null, host.adminKey(), null, Duration.ofSeconds(120),
                host.certificate()));
        System.out.print(report.table());
        assertTrue(report.passed(), report.problems().toString());
        assertTrue(report.rows().stream().anyMatch(r -> r[0].equals("final index state") && r[1].equals("COMMITTED=3")),
                report.table());
        HttpResponse<String> health = call("GET", "/api/health", null, null, null);
        assertEquals(200, health.statusCode(), health.body());
        assertNotNull(Json.parse(health.body(), "health").get("lastEventAt"),
                "blob events reached the app's webhook over HTTPS: " + health.body());
    }

    @Test
    @Order(2)
    void writeUrlsAreUserDelegationSasOfTheAppsIdentityForHttpsOnly() throws Exception {
        String run = "azure-udk";
        String u = writeUrl(run, 1, "model.bin", token(run));
        Map<String, String> q = query(u);
        assertTrue(u.startsWith("https://127.0.0.1:"), u);
        assertEquals(LocalIdentity.APP.principalId(), q.get("skoid"), "the delegation key is the app identity's");
        assertEquals(LocalIdentity.APP.tenantId(), q.get("sktid"));
        for (String field : List.of("skt", "ske", "sks", "skv", "sig")) {
            assertNotNull(q.get(field), field + " in " + q.keySet());
        }
        assertEquals("https", q.get("spr"), "HTTPS only, as in Azure");
        assertEquals("cw", q.get("sp"));
        assertEquals("b", q.get("sr"));
        HttpResponse<String> put = https.send(HttpRequest.newBuilder(URI.create(u)).header("x-ms-blob-type", "BlockBlob")
                .PUT(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(201, put.statusCode(), put.body());
        HttpResponse<String> read = https.send(HttpRequest.newBuilder(URI.create(u)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(403, read.statusCode(), "a write URL does not read");
    }

    @Test
    @Order(3)
    void checkpointCommittedReachesTheEventGridTopicSignedInAsTheUserAssignedIdentity() throws Exception {
        String run = "azure-events";
        JsonNode committed = commitOneFile(run, 42, token(run));
        JsonNode e = awaitEvent(ev -> ev.get("eventType").asText().equals("CheckpointCommitted")
                && ev.get("subject").asText().equals("runs/" + run + "/checkpoints/42"), "CheckpointCommitted of step 42");
        assertEquals(run, e.get("data").get("runId").asText());
        assertEquals(42, e.get("data").get("step").asLong());
        assertEquals(committed.get("files").get(0).get("etag").asText(),
                e.get("data").get("files").get(0).get("etag").asText());
        assertTrue(e.get("data").get("blobServiceUrl").asText().startsWith("https://127.0.0.1:"), e.toString());
        assertFalse(e.toString().contains("sig="), "no SAS in an event");
    }

    @Test
    @Order(4)
    void retentionDeletesAnOlderCheckpointAndTheTopicGetsCheckpointDeleted() throws Exception {
        String run = "azure-retention";
        HttpResponse<String> policy = admin("PUT", "/api/runs/" + run,
                "{\"retention\":{\"keepLast\":1,\"minAgeMinutes\":0}}");
        assertEquals(200, policy.statusCode(), policy.body());
        String token = token(run);
        commitOneFile(run, 1, token);
        commitOneFile(run, 2, token);
        JsonNode deleted = awaitEvent(ev -> ev.get("eventType").asText().equals("CheckpointDeleted")
                && ev.get("subject").asText().equals("runs/" + run + "/checkpoints/1"), "CheckpointDeleted of step 1");
        assertTrue(deleted.get("data").hasNonNull("deletedAt"), deleted.toString());
        HttpResponse<String> latest = withToken("GET", "/api/runs/" + run + "/checkpoints/latest", null, token);
        assertEquals(2, Json.parse(latest.body(), "latest").get("step").asLong(), latest.body());
        HttpResponse<String> one = withToken("GET", "/api/runs/" + run + "/checkpoints/1", null, token);
        assertTrue(one.statusCode() == 404 || Json.parse(one.body(), "c").get("state").asText().startsWith("DELET"),
                one.body());
    }

    @Test
    @Order(5)
    void bootstrapRunsItsLocalModeThroughTheAdminRouteWithTheAppsIdentity() throws Exception {
        assertEquals(401, call("POST", "/api/manage/bootstrap", "{}", null, null).statusCode());
        HttpResponse<String> r = admin("POST", "/api/manage/bootstrap", "{}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode report = Json.parse(r.body(), "report");
        assertEquals("local", report.get("mode").asText(), r.body());
        assertTrue(r.body().contains("https://127.0.0.1:"), "the endpoints it reports are the HTTPS ones: " + r.body());
        assertFalse(r.body().toLowerCase(Locale.ROOT).contains("accountkey"), r.body());
    }

    /** The app process's own environment, read as the operating system keeps it (Linux). */
    static Map<String, String> appEnvironment() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self")), "reading a process's environment needs Linux's /proc");
        ProcessHandle app = host.process().descendants().filter(p -> commandLine(p).contains(AppHostMain.class.getName()))
                .findFirst().orElseThrow(() -> new AssertionError("no app process under the Azure-mode host"));
        Path environ = Path.of("/proc", Long.toString(app.pid()), "environ");
        Map<String, String> env = new HashMap<>();
        for (String entry : new String(Files.readAllBytes(environ), StandardCharsets.UTF_8).split("\0")) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                env.put(entry.substring(0, eq), entry.substring(eq + 1));
            }
        }
        return env;
    }

    /** The whole command line (ProcessHandle.Info leaves out long ones). */
    static String commandLine(ProcessHandle p) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline")),
                    StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    @Test
    @Order(6)
    void theAppProcessHasExactlyInfrasAppSettingsAnIdentityEndpointAndNoKey() throws Exception {
        Map<String, String> env = appEnvironment();
        Set<String> ckpt = new TreeSet<>();
        env.keySet().stream().filter(k -> k.startsWith("CKPT_")).forEach(ckpt::add);
        Set<String> infra = new TreeSet<>(InfraAppSettings.resolve(AzuriteExtension.projectDir().resolve("infra"),
                InfraAppSettingsTest.LOCAL).keySet());
        assertEquals(infra, ckpt, "the app's CKPT_* settings are exactly infra/'s ckptAppSettings");
        assertEquals(LocalIdentity.APP.clientId(), env.get("CKPT_STORAGE__clientId"));
        assertEquals("managedidentity", env.get("CKPT_STORAGE__credential"));
        assertFalse(env.containsKey("CKPT_STORAGE"), "no connection string");
        assertFalse(env.containsKey("AZURE_CLIENT_ID"), "infra sets no AZURE_CLIENT_ID; neither does Azure mode");
        assertTrue(env.get("IDENTITY_ENDPOINT").startsWith("http://127.0.0.1:"), "the platform's token service");
        assertTrue(env.containsKey("IDENTITY_HEADER"));
        for (Map.Entry<String, String> e : env.entrySet()) {
            String v = e.getValue().toLowerCase(Locale.ROOT);
            assertFalse(v.contains("accountkey") || v.contains("defaultendpointsprotocol") || v.contains("eby8vdm02x"),
                    e.getKey() + " carries an account key or a connection string");
        }
    }

    @Test
    @Order(7)
    void azureModeRefusesToStartWhenInfraLacksARequiredSettingAndNamesIt(@TempDir Path dir) throws Exception {
        Path project = dir.resolve("project");
        Files.createDirectories(project);
        InfraAppSettingsTest.infraWithout(project, "CKPT_SWEEP_SCHEDULE");
        Files.createSymbolicLink(project.resolve("node_modules"), AzuriteExtension.projectDir().resolve("node_modules"));
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dckptvault.projectDir=" + project, "-cp", System.getProperty("java.class.path"),
                LocalMain.class.getName(), "--azure-mode", "--port", "0", "--data", ":memory:").start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), err);
        assertTrue(err.contains("CKPT_SWEEP_SCHEDULE"), err);
        assertFalse(out.contains("ready"), out);
    }

    @Test
    @Order(100)
    void sigtermStopsTheAppAzuriteAndThePlatform() throws Exception {
        List<ProcessHandle> children = host.process().descendants().toList();
        assertTrue(children.size() >= 2, "Azurite and the app run as child processes: " + children);
        host.close();
        assertFalse(host.process().isAlive());
        for (ProcessHandle child : children) {
            child.onExit().get(30, TimeUnit.SECONDS);
            assertFalse(child.isAlive(), "outlived the host: " + child.info().commandLine().orElse("?"));
        }
        assertEquals(Optional.empty(), children.stream().filter(ProcessHandle::isAlive).findAny());
    }
}
