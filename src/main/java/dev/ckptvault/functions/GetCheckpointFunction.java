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
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import java.util.Optional;

/** GET /api/runs/{runId}/checkpoints/{step}?downloads=true (read or write token): read URLs never outlive the token. */
public class GetCheckpointFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final IndexQueries queries;

    public GetCheckpointFunction(HttpApi http, RunAccess access, IndexQueries queries) {
        this.http = http;
        this.access = access;
        this.queries = queries;
    }

    @FunctionName("GetCheckpoint")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/checkpoints/{step:long}")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId,
            @BindingName("step") String step) {
        return http.respond(request, () -> {
            Grant grant = access.authorize(request.getHeaders(), runId, Scope.READ);
            return ApiResult.ok(queries.get(new CheckpointId(new RunId(runId), Step.parse(step, "step")),
                    "true".equalsIgnoreCase(request.getQueryParameters().get("downloads")), grant.expiresAt()));
        });
    }
}
