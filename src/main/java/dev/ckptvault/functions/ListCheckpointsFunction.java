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
import dev.ckptvault.query.IndexQueries;
import dev.ckptvault.layout.RunId;
import java.util.Map;
import java.util.Optional;

/** GET /api/runs/{runId}/checkpoints?state=&limit=&continuation=&files= (newest first). */
public class ListCheckpointsFunction {
    private final HttpApi http;
    private final IndexQueries queries;

    public ListCheckpointsFunction(HttpApi http, IndexQueries queries) {
        this.http = http;
        this.queries = queries;
    }

    @FunctionName("ListCheckpoints")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION,
                    route = "runs/{runId}/checkpoints")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        Map<String, String> q = request.getQueryParameters();
        return http.respond(request, () -> ApiResult.ok(queries.list(new RunId(runId), q.get("state"),
                q.get("limit"), q.get("continuation"), "true".equalsIgnoreCase(q.get("files")))));
    }
}
