package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.commit.Reindexer;
import dev.ckptvault.layout.RunId;
import java.util.Optional;

/** POST /api/manage/reindex[?runId=]: rebuild the index from the container (admin key). */
public class ReindexFunction {
    private final HttpApi http;
    private final Reindexer reindexer;

    public ReindexFunction(HttpApi http, Reindexer reindexer) {
        this.http = http;
        this.reindexer = reindexer;
    }

    @FunctionName("Reindex")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ADMIN,
                    route = "manage/reindex")
            HttpRequestMessage<Optional<String>> request) {
        String run = request.getQueryParameters().get("runId");
        return http.respond(request, () -> ApiResult.ok(reindexer.reindex(run == null ? null : new RunId(run))));
    }
}
