package dev.ckptvault.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.ApiContract;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * docs/openapi.yaml describes exactly the HTTP functions `mvn package` generated: every route and
 * method, nothing else, and with the credential each one's auth level asks for.
 */
class OpenApiRoutesIT {
    static final Path APP = Path.of("target", "azure-functions", "ckptvault");
    /** "METHOD /path" -> the function.json authLevel. */
    static final Map<String, String> GENERATED = new TreeMap<>();

    @BeforeAll
    static void readFunctionJson() throws IOException {
        try (Stream<Path> dirs = Files.list(APP)) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                Path file = dir.resolve("function.json");
                if (!Files.exists(file)) {
                    continue;
                }
                for (JsonNode b : Json.parse(Files.readString(file), file.toString()).get("bindings")) {
                    if (b.get("type").asText().equals("httpTrigger")) {
                        for (JsonNode m : b.get("methods")) {
                            GENERATED.put(m.asText().toUpperCase(Locale.ROOT) + " "
                                    + ApiContract.pathOf(b.get("route").asText()), b.get("authLevel").asText());
                        }
                    }
                }
            }
        }
        assertFalse(GENERATED.isEmpty(), "no HTTP function.json under " + APP.toAbsolutePath());
    }

    @Test
    void everyGeneratedRouteAndMethodIsDescribedAndNothingElse() {
        assertEquals(new TreeSet<>(GENERATED.keySet()), new TreeSet<>(ApiContract.get().operations()));
    }

    @Test
    void eachOperationAsksForTheCredentialItsAuthLevelMeans() {
        JsonNode paths = ApiContract.get().spec().path("paths");
        Map<String, String> described = new TreeMap<>();
        Map<String, String> expected = new TreeMap<>();
        GENERATED.forEach((operation, authLevel) -> {
            String[] mp = operation.split(" ", 2);
            JsonNode security = paths.path(mp[1]).path(mp[0].toLowerCase(Locale.ROOT)).path("security");
            described.put(operation, security.isEmpty() ? "none" : security.get(0).fieldNames().next());
            // ANONYMOUS at the host: health takes nothing, every other one a run token checked by the app.
            expected.put(operation, switch (authLevel.toLowerCase(Locale.ROOT)) {
                case "admin" -> "adminKey";
                case "anonymous" -> operation.equals("GET /health") ? "none" : "runToken";
                default -> "the function key, which the app's contract gives no route";
            });
        });
        assertEquals(expected, described);
    }
}
