package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.health.HealthService;
import dev.ckptvault.http.HttpApi;
import java.util.Optional;
import dev.ckptvault.http.ApiResult;

/** GET /api/health: storage and index reachable, last event seen. */
public class HealthFunction {
    private final HttpApi http;
    private final HealthService health;

    public HealthFunction(HttpApi http, HealthService health) {
        this.http = http;
        this.health = health;
    }

    @FunctionName("Health")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "health")
            HttpRequestMessage<Optional<String>> request) {
        return http.respond(request, () -> {
            HealthService.Report r = health.check();
            return ApiResult.of(r.healthy() ? 200 : 503, r.details());
        });
    }
}
