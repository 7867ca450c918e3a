package dev.ckptvault.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Reads the function.json files `mvn package` generated, as the Functions host will. */
class FunctionJsonIT {
    static final Path APP = Path.of("target", "azure-functions", "ckptvault");
    static final Map<String, JsonNode> FUNCTIONS = new HashMap<>();

    @BeforeAll
    static void load() throws IOException {
        try (Stream<Path> dirs = Files.list(APP)) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                Path fj = dir.resolve("function.json");
                if (Files.exists(fj)) {
                    FUNCTIONS.put(dir.getFileName().toString(), Json.parse(Files.readString(fj), fj.toString()));
                }
            }
        }
        assertFalse(FUNCTIONS.isEmpty(), "no function.json under " + APP.toAbsolutePath());
    }

    private static JsonNode trigger(String function) {
        JsonNode f = FUNCTIONS.get(function);
        assertTrue(f != null, function + " was not generated; have " + FUNCTIONS.keySet());
        for (JsonNode b : f.get("bindings")) {
            if (b.get("type").asText().endsWith("Trigger")) {
                return b;
            }
        }
        throw new AssertionError(function + " has no trigger binding");
    }

    private static void assertHttp(String function, String route, List<String> methods, String authLevel) {
        JsonNode t = trigger(function);
        assertEquals("httpTrigger", t.get("type").asText());
        assertEquals(route, t.get("route").asText(), function);
        assertEquals(authLevel, t.get("authLevel").asText().toUpperCase(), function);
        assertEquals(methods, Json.MAPPER.convertValue(t.get("methods"), List.class).stream()
                .map(m -> m.toString().toUpperCase()).toList(), function);
    }

    @Test
    void uploadsIsAnAnonymousPostWithALongStepConstraint() {
        // ANONYMOUS at the host: the app itself demands a write token of the run (DESIGN.md, Access).
        assertHttp("RequestUploads", "runs/{runId}/checkpoints/{step:long}/uploads", List.of("POST"), "ANONYMOUS");
    }

    @Test
    void tokenRoutesAreAnonymousAtTheHostAndLatestCannotMatchTheStepRoute() {
        assertHttp("CommitCheckpoint", "runs/{runId}/checkpoints/{step:long}/commit", List.of("POST"), "ANONYMOUS");
        assertHttp("GetLatestCheckpoint", "runs/{runId}/checkpoints/latest", List.of("GET"), "ANONYMOUS");
        assertHttp("GetCheckpoint", "runs/{runId}/checkpoints/{step:long}", List.of("GET"), "ANONYMOUS");
        assertHttp("ListCheckpoints", "runs/{runId}/checkpoints", List.of("GET"), "ANONYMOUS");
        assertHttp("GetRun", "runs/{runId}", List.of("GET"), "ANONYMOUS");
        assertHttp("RetentionPlan", "runs/{runId}/retention/plan", List.of("GET"), "ANONYMOUS");
    }

    @Test
    void reindexNeedsTheAdminKey() {
        assertHttp("Reindex", "manage/reindex", List.of("POST"), "ADMIN");
    }

    @Test
    void everyRouteThatChangesPoliciesPinsOrDeletesNeedsTheAdminKey() {
        assertHttp("PutRun", "runs/{runId}", List.of("PUT"), "ADMIN");
        assertHttp("ListRuns", "runs", List.of("GET"), "ADMIN");
        assertHttp("Pin", "runs/{runId}/checkpoints/{step:long}/pin", List.of("PUT"), "ADMIN");
        assertHttp("Unpin", "runs/{runId}/checkpoints/{step:long}/pin", List.of("DELETE"), "ADMIN");
        assertHttp("DeleteCheckpoint", "runs/{runId}/checkpoints/{step:long}", List.of("DELETE"), "ADMIN");
    }

    @Test
    void tokensAndSigningKeysAreManagedWithTheAdminKey() {
        assertHttp("IssueToken", "manage/runs/{runId}/tokens", List.of("POST"), "ADMIN");
        assertHttp("RevokeTokens", "manage/runs/{runId}/tokens", List.of("DELETE"), "ADMIN");
        assertHttp("RotateSigningKey", "manage/signing-keys/rotate", List.of("POST"), "ADMIN");
    }

    /** DESIGN.md, Access: the function key is not accepted by any route that changes data; here by none at all. */
    @Test
    void noRouteIsFunctionLevel() {
        FUNCTIONS.forEach((name, f) -> {
            for (JsonNode b : f.get("bindings")) {
                if (b.get("type").asText().equals("httpTrigger")) {
                    assertFalse(b.get("authLevel").asText().equalsIgnoreCase("function"), name + " takes the function key");
                }
            }
        });
    }

    @Test
    void sweepIsATimerOnTheScheduleSetting() {
        JsonNode t = trigger("Sweep");
        assertEquals("timerTrigger", t.get("type").asText());
        assertEquals("%CKPT_SWEEP_SCHEDULE%", t.get("schedule").asText());
        assertEquals("timer", t.get("name").asText());
    }

    @Test
    void blobEventsIsAnEventGridTrigger() {
        JsonNode t = trigger("BlobEvents");
        assertEquals("eventGridTrigger", t.get("type").asText());
        assertEquals("in", t.get("direction").asText());
    }

    @Test
    void healthIsAnonymous() {
        assertHttp("Health", "health", List.of("GET"), "ANONYMOUS");
    }

    @Test
    void noRouteUsesAPrefixTheHostReserves() {
        FUNCTIONS.forEach((name, f) -> {
            for (JsonNode b : f.get("bindings")) {
                if (b.has("route")) {
                    String route = b.get("route").asText().toLowerCase();
                    assertFalse(route.startsWith("admin") || route.startsWith("runtime"), name + ": " + route);
                }
            }
        });
    }

    @Test
    void everyFunctionPointsAtTheAppJar() {
        FUNCTIONS.forEach((name, f) -> {
            assertTrue(f.get("scriptFile").asText().endsWith(".jar"), name);
            assertTrue(f.get("entryPoint").asText().startsWith("dev.ckptvault.functions."), name);
        });
    }

    @Test
    void bootstrapIsAnAdminPostUnderManage() {
        assertHttp("Bootstrap", "manage/bootstrap", List.of("POST"), "ADMIN");
    }
}
