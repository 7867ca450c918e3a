package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.json.Json;
import dev.ckptvault.wiring.AppContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The local host reads the same annotations the Maven plugin turns into function.json for Azure:
 * every function the Functions host would run, the local host runs with the same trigger, route,
 * methods and auth level.
 */
class LocalRoutesMatchFunctionJsonIT {
    @Test
    void everyGeneratedFunctionIsServedLocallyWithTheSameTrigger() throws Exception {
        Map<String, String> azure = new TreeMap<>();
        try (Stream<Path> dirs = Files.list(Path.of("target", "azure-functions", "ckptvault"))) {
            for (Path fj : dirs.map(d -> d.resolve("function.json")).filter(Files::exists).toList()) {
                JsonNode f = Json.parse(Files.readString(fj), fj.toString());
                for (JsonNode b : f.get("bindings")) {
                    if (b.get("type").asText().endsWith("Trigger")) {
                        azure.put(fj.getParent().getFileName().toString(), describe(b));
                    }
                }
            }
        }
        assertFalse(azure.isEmpty());

        Map<String, String> settings = Map.of("CKPT_STORAGE", "UseDevelopmentStorage=true",
                "CKPT_SWEEP_SCHEDULE", "0 */5 * * * *");
        AppContext ctx = new AppContext(CkptConfig.fromMap(settings), Clock.systemUTC());
        FunctionInstanceInjector metadataOnly = new FunctionInstanceInjector() {
            @Override
            public <T> T getInstance(Class<T> type) {
                return null; // nothing is invoked here; only the annotations are compared
            }
        };
        FunctionHost host = FunctionHost.load(ctx.functionClasses(), metadataOnly, settings);
        Map<String, String> local = new TreeMap<>();
        host.httpFunctions().forEach(f -> local.put(f.name(), "http " + f.route().text() + " "
                + f.methods().stream().map(Enum::name).sorted().toList() + " " + f.authLevel()));
        host.eventGridFunctions().forEach(f -> local.put(f.name(), "eventGrid"));
        host.timerFunctions().forEach(f -> local.put(f.name(), "timer"));
        assertEquals(azure, local);
    }

    private static String describe(JsonNode b) {
        return switch (b.get("type").asText()) {
            case "httpTrigger" -> "http " + b.get("route").asText() + " "
                    + Json.MAPPER.convertValue(b.get("methods"), java.util.List.class).stream()
                            .map(m -> m.toString().toUpperCase()).sorted().toList()
                    + " " + b.get("authLevel").asText().toUpperCase();
            case "eventGridTrigger" -> "eventGrid";
            case "timerTrigger" -> "timer";
            default -> b.get("type").asText();
        };
    }
}
