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
import java.util.Optional;

/** GET /api/runs/{runId}/checkpoints/latest: the newest COMMITTED checkpoint with read URLs. */
public class GetLatestCheckpointFunction {
    private final HttpApi http;
    private final IndexQueries queries;

    public GetLatestCheckpointFunction(HttpApi http, IndexQueries queries) {
        this.http = http;
        this.queries = queries;
    }

    @FunctionName("GetLatestCheckpoint")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION,
                    route = "runs/{runId}/checkpoints/latest")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> ApiResult.ok(queries.latest(new RunId(runId))));
    }
}
