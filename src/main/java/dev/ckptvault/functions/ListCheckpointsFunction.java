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
import java.util.Map;
import java.util.Optional;

/** GET /api/runs/{runId}/checkpoints?state=&limit=&continuation=&files= (read or write token; newest first). */
public class ListCheckpointsFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final IndexQueries queries;

    public ListCheckpointsFunction(HttpApi http, RunAccess access, IndexQueries queries) {
        this.http = http;
        this.access = access;
        this.queries = queries;
    }

    @FunctionName("ListCheckpoints")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/checkpoints")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        Map<String, String> q = request.getQueryParameters();
        return http.respond(request, () -> {
            access.authorize(request.getHeaders(), runId, Scope.READ);
            return ApiResult.ok(queries.list(new RunId(runId), q.get("state"), q.get("limit"), q.get("continuation"),
                    "true".equalsIgnoreCase(q.get("files"))));
        });
    }
}
