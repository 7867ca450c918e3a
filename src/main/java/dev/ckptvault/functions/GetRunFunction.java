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
import dev.ckptvault.query.IndexQueries;
import dev.ckptvault.layout.RunId;
import java.util.Optional;

/** GET /api/runs/{runId} (read or write token): policy, latest committed step, counts by state, bytes. */
public class GetRunFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final IndexQueries queries;

    public GetRunFunction(HttpApi http, RunAccess access, IndexQueries queries) {
        this.http = http;
        this.access = access;
        this.queries = queries;
    }

    @FunctionName("GetRun")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> {
            access.authorize(request.getHeaders(), runId, Scope.READ);
            return ApiResult.ok(queries.run(new RunId(runId)));
        });
    }
}
