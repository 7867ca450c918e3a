package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.access.Grant;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.Scope;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.query.IndexQueries;
import dev.ckptvault.layout.RunId;
import java.util.Optional;

/** GET /api/runs/{runId}/checkpoints/latest (read or write token): the newest COMMITTED checkpoint with read URLs that never outlive the token. */
public class GetLatestCheckpointFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final IndexQueries queries;

    public GetLatestCheckpointFunction(HttpApi http, RunAccess access, IndexQueries queries) {
        this.http = http;
        this.access = access;
        this.queries = queries;
    }

    @FunctionName("GetLatestCheckpoint")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/checkpoints/latest")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> {
            Grant grant = access.authorize(request.getHeaders(), runId, Scope.READ);
            return ApiResult.ok(queries.latest(new RunId(runId), grant.expiresAt()));
        });
    }
}
