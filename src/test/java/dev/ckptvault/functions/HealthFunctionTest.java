package dev.ckptvault.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.wiring.AppContext;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class HealthFunctionTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    private static LocalHttpResponse health(AppContext ctx) {
        return (LocalHttpResponse) ctx.function(HealthFunction.class)
                .run(LocalHttpRequest.of(HttpMethod.GET, "/api/health", Map.of(), null));
    }

    @Test
    void reachableStorageIs200() {
        LocalHttpResponse r = health(AZURITE.root(Map.of()));
        assertEquals(200, r.getStatusCode(), r.bodyText());
        assertEquals("ok", Json.parse(r.bodyText(), "r").get("storage").asText());
    }

    @Test
    void unreachableStorageIs503() {
        AppContext down = new AppContext(CkptConfig.fromMap(Map.of(
                "CKPT_STORAGE", AzuriteProcess.connectionString(1, 2),
                "CKPT_SWEEP_SCHEDULE", "0 */5 * * * *")), Clock.systemUTC());
        LocalHttpResponse r = health(down);
        assertEquals(503, r.getStatusCode(), r.bodyText());
        assertEquals("unreachable", Json.parse(r.bodyText(), "r").get("storage").asText());
    }
}
