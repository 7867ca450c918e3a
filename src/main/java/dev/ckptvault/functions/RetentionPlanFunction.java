package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.Scope;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.lifecycle.RetentionService;
import java.util.Optional;

/** GET /api/runs/{runId}/retention/plan (read or write token): what retention would keep and remove now, and why (dry run). */
public class RetentionPlanFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final RetentionService retention;

    public RetentionPlanFunction(HttpApi http, RunAccess access, RetentionService retention) {
        this.http = http;
        this.access = access;
        this.retention = retention;
    }

    @FunctionName("RetentionPlan")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/retention/plan")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> {
            access.authorize(request.getHeaders(), runId, Scope.READ);
            return ApiResult.ok(retention.plan(new RunId(runId)));
        });
    }
}
