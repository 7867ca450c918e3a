package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.layout.RunId;
import java.util.Optional;

/**
 * POST /api/manage/runs/{runId}/tokens (admin): {@code {"scope":"write"|"read","ttlMinutes":N}} ->
 * {@code {"token","runId","scope","expiresOn"}}. The run need not exist yet: a launcher issues the
 * token before the first upload creates it.
 */
public class IssueTokenFunction {
    private final HttpApi http;
    private final RunAccess access;

    public IssueTokenFunction(HttpApi http, RunAccess access) {
        this.http = http;
        this.access = access;
    }

    @FunctionName("IssueToken")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ADMIN,
                    route = "manage/runs/{runId}/tokens")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> ApiResult.ok(access.issue(new RunId(runId), http.body(request))));
    }
}
