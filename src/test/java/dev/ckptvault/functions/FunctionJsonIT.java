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
    void uploadsIsAFunctionLevelPostWithALongStepConstraint() {
        assertHttp("RequestUploads", "runs/{runId}/checkpoints/{step:long}/uploads", List.of("POST"), "FUNCTION");
    }

    @Test
    void indexRoutesAreFunctionLevelAndLatestCannotMatchTheStepRoute() {
        assertHttp("CommitCheckpoint", "runs/{runId}/checkpoints/{step:long}/commit", List.of("POST"), "FUNCTION");
        assertHttp("GetLatestCheckpoint", "runs/{runId}/checkpoints/latest", List.of("GET"), "FUNCTION");
        assertHttp("GetCheckpoint", "runs/{runId}/checkpoints/{step:long}", List.of("GET"), "FUNCTION");
        assertHttp("ListCheckpoints", "runs/{runId}/checkpoints", List.of("GET"), "FUNCTION");
        assertHttp("ListRuns", "runs", List.of("GET"), "FUNCTION");
        assertHttp("GetRun", "runs/{runId}", List.of("GET"), "FUNCTION");
    }

    @Test
    void reindexNeedsTheAdminKey() {
        assertHttp("Reindex", "manage/reindex", List.of("POST"), "ADMIN");
    }

    @Test
    void retentionRoutesHaveTheirAuthLevelsAndDeleteNeedsTheAdminKey() {
        assertHttp("PutRun", "runs/{runId}", List.of("PUT"), "FUNCTION");
        assertHttp("RetentionPlan", "runs/{runId}/retention/plan", List.of("GET"), "FUNCTION");
        assertHttp("Pin", "runs/{runId}/checkpoints/{step:long}/pin", List.of("PUT"), "FUNCTION");
        assertHttp("Unpin", "runs/{runId}/checkpoints/{step:long}/pin", List.of("DELETE"), "FUNCTION");
        assertHttp("DeleteCheckpoint", "runs/{runId}/checkpoints/{step:long}", List.of("DELETE"), "ADMIN");
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
