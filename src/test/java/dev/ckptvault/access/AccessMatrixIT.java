package dev.ckptvault.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.EventGridWebhook;
import dev.ckptvault.local.LocalStack;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.testing.ApiContract;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every function in the generated function.json (as the Functions host reads them) against every
 * kind of credential, through the local host, which checks function and admin keys as Azure's
 * host does and runs the app's own token checks. The table is printed to this test's output file
 * (target/failsafe-reports/dev.ckptvault.access.AccessMatrixIT-output.txt).
 */
class AccessMatrixIT {
    static final Path APP = Path.of("target", "azure-functions", "ckptvault");
    static final String ADMIN_KEY = "matrix-admin-" + Long.toHexString(new SecureRandom().nextLong());
    static final String FUNCTION_KEY = "matrix-function-" + Long.toHexString(new SecureRandom().nextLong());
    static final String RUN = "matrix-run";
    static final String OTHER_RUN = "matrix-other-run";
    static final String REVOKE_TARGET = "matrix-revoke-target";
    static final List<String> COLUMNS = List.of("none", "function key", "admin key", "write token", "read token",
            "other run's token", "expired", "revoked", "wrong signature", "malformed");

    /** DESIGN.md's route table, as far as function.json cannot say it: what a token route needs. */
    static final Set<String> WRITE_ROUTES = Set.of("RequestUploads", "CommitCheckpoint");
    static final Set<String> READ_ROUTES = Set.of("GetRun", "ListCheckpoints", "GetLatestCheckpoint", "GetCheckpoint",
            "RetentionPlan");
    static final Set<String> OPEN_ROUTES = Set.of("Health");

    /** What the app's 401 on a token route says for each credential that is not a valid token. */
    static final Map<String, String> REASONS = Map.of("none", "a run token is required",
            "function key", "not a key", "admin key", "not a key", "expired", "expired", "revoked", "revoked",
            "wrong signature", "signature is not valid", "malformed", "the bearer token");

    static LocalStack stack;
    static String url;
    static final Map<String, Map<String, String>> CREDENTIALS = new LinkedHashMap<>();

    /** One concrete request per HTTP function: run, path after /api, query, body, and the status it earns when let in. */
    record Probe(String run, String path, String body, int allowed) {
    }

    static Probe probe(String function) {
        return switch (function) {
            case "Health" -> new Probe(null, "/health", null, 200);
            case "GetRun" -> new Probe(RUN, "/runs/" + RUN, null, 200);
            case "ListCheckpoints" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints", null, 200);
            case "GetLatestCheckpoint" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/latest", null, 200);
            case "GetCheckpoint" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/1?downloads=true", null, 200);
            case "RetentionPlan" -> new Probe(RUN, "/runs/" + RUN + "/retention/plan", null, 200);
            case "RequestUploads" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/8/uploads",
                    "{\"files\":[{\"path\":\"rank-0/m.bin\"}]}", 200);
            // A file never written: accepted as COMMITTING, and the same manifest again gets the same answer.
            case "CommitCheckpoint" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/7/commit",
                    "{\"step\":7,\"files\":[{\"path\":\"rank-0/m.bin\",\"size\":3,\"etag\":\"\\\"0x8DC0000000000001\\\"\"}]}", 202);
            case "PutRun" -> new Probe(RUN, "/runs/" + RUN, "{\"retention\":{\"keepLast\":5}}", 200);
            case "ListRuns" -> new Probe(null, "/runs", null, 200);
            case "Pin" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/1/pin", null, 200);
            case "Unpin" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/1/pin", null, 200);
            case "DeleteCheckpoint" -> new Probe(RUN, "/runs/" + RUN + "/checkpoints/3", null, 200);
            case "IssueToken" -> new Probe(RUN, "/manage/runs/" + RUN + "/tokens", "{\"scope\":\"read\",\"ttlMinutes\":5}", 200);
            case "RevokeTokens" -> new Probe(REVOKE_TARGET, "/manage/runs/" + REVOKE_TARGET + "/tokens", null, 200);
            case "RotateSigningKey" -> new Probe(null, "/manage/signing-keys/rotate", null, 200);
            case "Bootstrap" -> new Probe(null, "/manage/bootstrap", null, 200);
            case "Reindex" -> new Probe(null, "/manage/reindex?runId=" + RUN, null, 200);
            default -> throw new AssertionError("function " + function + " has no probe in the access matrix: add one"
                    + " and its row in DESIGN.md's route table");
        };
    }

    @BeforeAll
    static void startTheLocalHost() throws Exception {
        stack = LocalStack.start(new LocalStack.Options(0, null, null, Optional.of(FUNCTION_KEY), Optional.of(ADMIN_KEY),
                AzuriteExtension.projectDir(), Duration.ofMillis(200)), Map.of());
        url = "http://127.0.0.1:" + stack.port() + "/api";
        // RUN: step 1 committed (latest, pinned and unpinned by the matrix), step 3 uploading (deleted by it).
        String write = issue(RUN, "write", 60);
        commitOneFile(RUN, 1, write);
        assertEquals(200, call("POST", "/runs/" + RUN + "/checkpoints/3/uploads", "{\"files\":[{\"path\":\"a.bin\"}]}",
                bearer(write)).statusCode());
        for (String run : List.of(RUN, REVOKE_TARGET)) {
            CREDENTIALS.put(run, credentials(run));
        }
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    // ---- the matrix ------------------------------------------------------------------------------

    @Test
    void everyFunctionAnswersEveryKindOfCredentialAsTheRouteTableSays() throws Exception {
        Map<String, JsonNode> triggers = new TreeMap<>();
        try (Stream<Path> dirs = Files.list(APP)) {
            for (Path fj : dirs.map(d -> d.resolve("function.json")).filter(Files::exists).toList()) {
                for (JsonNode b : Json.parse(Files.readString(fj), fj.toString()).get("bindings")) {
                    if (b.get("type").asText().endsWith("Trigger")) {
                        triggers.put(fj.getParent().getFileName().toString(), b);
                    }
                }
            }
        }
        assertTrue(triggers.size() >= 20, "function.json files under " + APP.toAbsolutePath() + ": " + triggers.keySet());

        List<String[]> rows = new ArrayList<>();
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, JsonNode> f : triggers.entrySet()) {
            String name = f.getKey();
            JsonNode trigger = f.getValue();
            String type = trigger.get("type").asText();
            String[] row = new String[COLUMNS.size() + 2];
            row[0] = name;
            if (type.equals("timerTrigger")) {
                row[1] = "timer " + trigger.get("schedule").asText();
                for (int c = 0; c < COLUMNS.size(); c++) {
                    row[c + 2] = "-";
                }
                assertFalse(trigger.has("route"), name + " is a timer and has no HTTP route");
                rows.add(row);
                continue;
            }
            if (type.equals("eventGridTrigger")) {
                row[1] = "eventGrid (webhook)";
                fill(row, name, wrong, c -> webhook(credential(c, RUN)), c -> c.equals("admin key") ? 202 : 401);
                rows.add(row);
                continue;
            }
            assertEquals("httpTrigger", type, name);
            String level = trigger.get("authLevel").asText().toUpperCase(Locale.ROOT);
            String method = trigger.get("methods").get(0).asText().toUpperCase(Locale.ROOT);
            Probe p = probe(name);
            row[1] = method + " " + trigger.get("route").asText() + " [" + level + "]";
            assertFalse(level.equals("FUNCTION"), name + ": no route may take the function key (DESIGN.md, Access)");
            String described = ApiContract.pathOf(trigger.get("route").asText());
            fill(row, name, wrong, c -> described(method, described,
                            call(method, p.path(), p.body(), credential(c, p.run() == null ? RUN : p.run()))),
                    c -> expected(name, level, p, c));
            rows.add(row);
        }
        String table = table(rows);
        System.out.println("Access matrix: HTTP status per function (rows, from function.json) and credential (columns),"
                + " through the local host");
        System.out.println(table);
        assertTrue(wrong.isEmpty(), "unexpected statuses:\n" + String.join("\n", wrong) + "\n" + table);
    }

    /** Every answer of the matrix, allowed or refused, is one docs/openapi.yaml describes. */
    static HttpResponse<String> described(String method, String path, HttpResponse<String> r) {
        ApiContract.get().check(method, path, r.statusCode(), r.body());
        return r;
    }

    static int expected(String name, String level, Probe p, String column) {
        if (level.equals("ADMIN")) {
            return column.equals("admin key") ? p.allowed() : 401;
        }
        assertEquals("ANONYMOUS", level, name);
        if (OPEN_ROUTES.contains(name)) {
            return p.allowed();
        }
        boolean write = WRITE_ROUTES.contains(name);
        assertTrue(write || READ_ROUTES.contains(name), name + " is anonymous at the host but in no token route list");
        return switch (column) {
            case "write token" -> p.allowed();
            case "read token" -> write ? 403 : p.allowed();
            case "other run's token" -> 403;
            default -> 401;
        };
    }

    interface Call {
        HttpResponse<String> send(String column) throws Exception;
    }

    interface Expect {
        int status(String column);
    }

    static void fill(String[] row, String name, List<String> wrong, Call call, Expect expect) throws Exception {
        for (int c = 0; c < COLUMNS.size(); c++) {
            String column = COLUMNS.get(c);
            HttpResponse<String> r = call.send(column);
            int want = expect.status(column);
            row[c + 2] = Integer.toString(r.statusCode());
            boolean json = r.body().isEmpty() || r.headers().firstValue("content-type").orElse("").startsWith("application/json");
            if (r.statusCode() != want || !json) {
                row[c + 2] += " (want " + want + ")";
                wrong.add(name + " / " + column + ": " + r.statusCode() + " " + r.body());
            }
            if (r.statusCode() == 401 && r.headers().firstValue("www-authenticate").isPresent()) {
                // The app's own 401s challenge for a bearer token; the host's key 401s do not.
                assertTrue(r.headers().firstValue("www-authenticate").get().startsWith("Bearer"), name);
            }
            if (want == 401 && (WRITE_ROUTES.contains(name) || READ_ROUTES.contains(name))) {
                assertTrue(r.headers().firstValue("www-authenticate").orElse("").startsWith("Bearer"),
                        name + " / " + column + ": a token route's 401 challenges for a bearer token");
                // Each credential is refused for its own reason, not by accident of another check.
                String why = REASONS.get(column);
                assertTrue(r.body().contains(why), name + " / " + column + " should say '" + why + "': " + r.body());
            }
        }
    }

    static String table(List<String[]> rows) {
        List<String> header = new ArrayList<>(List.of("function", "trigger [host auth level]"));
        header.addAll(COLUMNS);
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = header.get(i).length();
            for (String[] r : rows) {
                w[i] = Math.max(w[i], r[i].length());
            }
        }
        StringBuilder b = new StringBuilder();
        appendRow(b, header.toArray(String[]::new), w);
        StringBuilder sep = new StringBuilder("|");
        for (int x : w) {
            sep.append("-".repeat(x + 2)).append('|');
        }
        b.append(sep).append('\n');
        for (String[] r : rows) {
            appendRow(b, r, w);
        }
        return b.toString();
    }

    static void appendRow(StringBuilder b, String[] cells, int[] w) {
        b.append('|');
        for (int i = 0; i < cells.length; i++) {
            b.append(' ').append(String.format(Locale.ROOT, "%-" + w[i] + "s", cells[i])).append(" |");
        }
        b.append('\n');
    }

    // ---- the attack of issue 12 ----------------------------------------------------------------

    /**
     * With the function key (or a write token of a run of one's own) one could: 1. make the victim
     * run's policy keep one checkpoint, 2. unpin its pinned checkpoints, 3. upload and commit a
     * tiny step 999999999999 that becomes latest (restarts load it, retention after the commit
     * deletes everything else). Every step fails, the first already, and nothing of the victim's
     * changes.
     */
    @Test
    void theThreeStepAttackOnAnotherRunFailsAtEveryStep() throws Exception {
        String victim = "victim-run";
        String victimWrite = issue(victim, "write", 60);
        for (long step = 1; step <= 3; step++) {
            commitOneFile(victim, step, victimWrite);
        }
        assertEquals(200, admin("PUT", "/runs/" + victim + "/checkpoints/2/pin", null).statusCode());
        String victimRead = issue(victim, "read", 60);
        JsonNode runBefore = json(call("GET", "/runs/" + victim, null, bearer(victimRead)));
        String attackerToken = issue("attacker-run", "write", 60);
        Map<String, Map<String, String>> attackers = new LinkedHashMap<>();
        attackers.put("function key", Map.of("x-functions-key", FUNCTION_KEY));
        attackers.put("attacker's own write token", bearer(attackerToken));
        attackers.put("no credential", Map.of());

        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, Map<String, String>> a : attackers.entrySet()) {
            HttpResponse<String> policy = call("PUT", "/runs/" + victim,
                    "{\"retention\":{\"keepLast\":1,\"minAgeMinutes\":0}}", a.getValue());
            HttpResponse<String> unpin = call("DELETE", "/runs/" + victim + "/checkpoints/2/pin", null, a.getValue());
            HttpResponse<String> uploads = call("POST", "/runs/" + victim + "/checkpoints/999999999999/uploads",
                    "{\"files\":[{\"path\":\"x.bin\"}]}", a.getValue());
            HttpResponse<String> commit = call("POST", "/runs/" + victim + "/checkpoints/999999999999/commit",
                    "{\"step\":999999999999,\"files\":[{\"path\":\"x.bin\",\"size\":1,\"etag\":\"\\\"0x1\\\"\"}]}",
                    a.getValue());
            lines.add(String.format(Locale.ROOT, "%-28s 1. PUT policy: %d   2. DELETE pin: %d   3a. uploads: %d   3b. commit: %d",
                    a.getKey(), policy.statusCode(), unpin.statusCode(), uploads.statusCode(), commit.statusCode()));
            assertEquals(401, policy.statusCode(), a.getKey() + " changed the policy: " + policy.body());
            assertEquals(401, unpin.statusCode(), a.getKey() + " unpinned: " + unpin.body());
            int refused = a.getKey().contains("token") ? 403 : 401;
            assertEquals(refused, uploads.statusCode(), a.getKey() + " got write URLs: " + uploads.body());
            assertEquals(refused, commit.statusCode(), a.getKey() + " committed: " + commit.body());
            assertFalse(uploads.body().contains("sig="), "no URL in a refusal");
        }
        System.out.println("Issue 12 attack on run " + victim + ":");
        lines.forEach(System.out::println);

        JsonNode runAfter = json(call("GET", "/runs/" + victim, null, bearer(victimRead)));
        assertEquals(runBefore.get("retention"), runAfter.get("retention"), "the victim's policy is unchanged");
        assertEquals(3, runAfter.get("latestCommittedStep").asLong());
        assertTrue(json(call("GET", "/runs/" + victim + "/checkpoints/2", null, bearer(victimRead))).get("pinned")
                .asBoolean(), "still pinned");
        assertEquals(3, json(call("GET", "/runs/" + victim + "/checkpoints/latest", null, bearer(victimRead)))
                .get("step").asLong(), "a restart still loads the victim's own latest");
        JsonNode list = json(call("GET", "/runs/" + victim + "/checkpoints", null, bearer(victimRead)));
        assertEquals(List.of("3:COMMITTED", "2:COMMITTED", "1:COMMITTED"), stream(list.get("checkpoints"))
                .map(c -> c.get("step").asLong() + ":" + c.get("state").asText()).toList());
        StorageClients storage = new StorageClients(CkptConfig.fromMap(AzuriteExtension.settings(
                stack.azuriteConnectionString().orElseThrow(), Map.of())));
        assertTrue(new ContainerStore(storage.container()).list(victim + "/step-999999999999/", false).isEmpty(),
                "nothing was written at the attacker's step");
    }

    // ---- credentials -----------------------------------------------------------------------------

    /** Every credential of the matrix for {@code run}, made through the admin route like a launcher would. */
    static Map<String, String> credentials(String run) throws Exception {
        Map<String, String> c = new LinkedHashMap<>();
        // Revoked first: the fresh tokens below are issued after the revocation and stay valid.
        String revoked = issue(run, "write", 60);
        assertEquals(200, admin("DELETE", "/manage/runs/" + run + "/tokens", null).statusCode());
        c.put("revoked", revoked);
        c.put("write token", issueAfter(run, "write", Instant.now()));
        c.put("read token", issue(run, "read", 60));
        c.put("other run's token", issue(OTHER_RUN, "write", 60));
        c.put("expired", expired(run));
        c.put("wrong signature", forged(run));
        c.put("malformed", "ckv1.bm90LWEtdG9rZW4.not-a-signature");
        return c;
    }

    /** A token issued strictly after {@code after}: the revocation refuses tokens issued up to its millisecond. */
    static String issueAfter(String run, String scope, Instant after) throws Exception {
        while (!Instant.now().isAfter(after.plusMillis(1))) {
            Thread.onSpinWait();
        }
        return issue(run, scope, 60);
    }

    /** Signed with the app's real key (read from the keys container) by an issuer whose clock is two hours behind. */
    static String expired(String run) {
        StorageClients storage = new StorageClients(CkptConfig.fromMap(AzuriteExtension.settings(
                stack.azuriteConnectionString().orElseThrow(), Map.of())));
        Clock past = Clock.fixed(Instant.now().minus(Duration.ofHours(2)), ZoneOffset.UTC);
        ContainerStore keys = new ContainerStore(storage.keysContainer());
        RunAccess issuer = new RunAccess(new SigningKeyStore(keys, past, Duration.ofDays(7)), new Revocations(keys, past),
                past, Duration.ofDays(7));
        return issuer.issue(new RunId(run), Scope.WRITE, Duration.ofMinutes(60)).token();
    }

    /** The claims of a real write token of the run, signed with a key the app never made under its kid. */
    static String forged(String run) throws Exception {
        RunToken claims = TokenCodec.decode(issue(run, "write", 60)).claims();
        SigningKey attackerKey = SigningKey.generate(new SecureRandom(), Instant.now());
        return TokenCodec.encode(claims, new SigningKey(claims.kid(), attackerKey.secret(), Instant.now(),
                Optional.empty(), Optional.empty()));
    }

    static Map<String, String> credential(String column, String run) {
        return switch (column) {
            case "none" -> Map.of();
            case "function key" -> Map.of("x-functions-key", FUNCTION_KEY);
            case "admin key" -> Map.of("x-functions-key", ADMIN_KEY);
            default -> bearer(CREDENTIALS.get(CREDENTIALS.containsKey(run) ? run : RUN).get(column));
        };
    }

    static Map<String, String> bearer(String token) {
        return Map.of("Authorization", "Bearer " + token);
    }

    static String issue(String run, String scope, int minutes) throws Exception {
        HttpResponse<String> r = admin("POST", "/manage/runs/" + run + "/tokens",
                "{\"scope\":\"" + scope + "\",\"ttlMinutes\":" + minutes + "}");
        assertEquals(200, r.statusCode(), r.body());
        return json(r).get("token").asText();
    }

    // ---- HTTP ------------------------------------------------------------------------------------

    static HttpResponse<String> admin(String method, String path, String body) throws Exception {
        return call(method, path, body, Map.of("x-functions-key", ADMIN_KEY));
    }

    static HttpResponse<String> call(String method, String path, String body, Map<String, String> headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        headers.forEach(b::header);
        return Http.send(b.build());
    }

    static HttpResponse<String> webhook(Map<String, String> headers) throws Exception {
        String sample;
        try (InputStream in = AccessMatrixIT.class.getResourceAsStream("/eventgrid/blob-created.eventgrid.json")) {
            sample = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url.substring(0, url.length() - "/api".length())
                        + EventGridWebhook.PATH + "?functionName=BlobEvents")).timeout(Duration.ofSeconds(60))
                .header("aeg-event-type", "Notification").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(sample));
        headers.forEach(b::header);
        return Http.send(b.build());
    }

    /** Uploads one 3-byte file through the issued URL and commits it with its eTag: COMMITTED. */
    static void commitOneFile(String run, long step, String writeToken) throws Exception {
        HttpResponse<String> u = call("POST", "/runs/" + run + "/checkpoints/" + step + "/uploads",
                "{\"files\":[{\"path\":\"rank-0/m.bin\"}]}", bearer(writeToken));
        assertEquals(200, u.statusCode(), u.body());
        HttpResponse<String> put = Http.putBlob(json(u).get("uploads").get(0).get("url").asText(), new byte[] {1, 2, 3});
        assertEquals(201, put.statusCode(), put.body());
        String etag = put.headers().firstValue("ETag").orElseThrow();
        HttpResponse<String> c = call("POST", "/runs/" + run + "/checkpoints/" + step + "/commit", "{\"step\":" + step
                + ",\"files\":[{\"path\":\"rank-0/m.bin\",\"size\":3,\"etag\":" + Json.write(etag) + "}]}", bearer(writeToken));
        assertEquals(200, c.statusCode(), c.body());
    }

    static JsonNode json(HttpResponse<String> r) {
        return Json.parse(r.body(), "response");
    }

    static Stream<JsonNode> stream(JsonNode array) {
        List<JsonNode> out = new ArrayList<>();
        array.forEach(out::add);
        return out.stream();
    }
}
