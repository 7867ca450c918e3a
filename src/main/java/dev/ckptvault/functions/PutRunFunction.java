package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.run.RunPolicies;
import java.util.Optional;

/** PUT /api/runs/{runId} (admin): creates the run or replaces its retention policy. */
public class PutRunFunction {
    private final HttpApi http;
    private final RunPolicies policies;

    public PutRunFunction(HttpApi http, RunPolicies policies) {
        this.http = http;
        this.policies = policies;
    }

    @FunctionName("PutRun")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.PUT}, authLevel = AuthorizationLevel.ADMIN,
                    route = "runs/{runId}")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> ApiResult.ok(policies.put(new RunId(runId), http.body(request))));
    }
}
