package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.query.IndexQueries;
import java.util.Optional;

/** GET /api/runs?limit=&continuation= (admin). */
public class ListRunsFunction {
    private final HttpApi http;
    private final IndexQueries queries;

    public ListRunsFunction(HttpApi http, IndexQueries queries) {
        this.http = http;
        this.queries = queries;
    }

    @FunctionName("ListRuns")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ADMIN,
                    route = "runs")
            HttpRequestMessage<Optional<String>> request) {
        return http.respond(request, () -> ApiResult.ok(queries.runs(
                request.getQueryParameters().get("limit"), request.getQueryParameters().get("continuation"))));
    }
}
