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
import dev.ckptvault.lifecycle.RetentionService;
import java.util.Optional;

/** GET /api/runs/{runId}/retention/plan: what retention would keep and remove now, and why (dry run). */
public class RetentionPlanFunction {
    private final HttpApi http;
    private final RetentionService retention;

    public RetentionPlanFunction(HttpApi http, RetentionService retention) {
        this.http = http;
        this.retention = retention;
    }

    @FunctionName("RetentionPlan")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION,
                    route = "runs/{runId}/retention/plan")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> ApiResult.ok(retention.plan(new RunId(runId))));
    }
}
