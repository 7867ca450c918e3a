package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.provisioning.BootstrapService;
import java.util.Optional;

/** POST /api/manage/bootstrap (admin): provision storage, index and events; idempotent. */
public class BootstrapFunction {
    private final HttpApi http;
    private final BootstrapService bootstrap;

    public BootstrapFunction(HttpApi http, BootstrapService bootstrap) {
        this.http = http;
        this.bootstrap = bootstrap;
    }

    @FunctionName("Bootstrap")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ADMIN,
                    route = "manage/bootstrap")
            HttpRequestMessage<Optional<String>> request) {
        return http.respond(request, () -> ApiResult.ok(bootstrap.run().toJson()));
    }
}
