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
 * DELETE /api/manage/runs/{runId}/tokens (admin): every token issued for the run so far is refused,
 * on every app instance within a minute -> {@code {"runId","revokedBefore"}}.
 */
public class RevokeTokensFunction {
    private final HttpApi http;
    private final RunAccess access;

    public RevokeTokensFunction(HttpApi http, RunAccess access) {
        this.http = http;
        this.access = access;
    }

    @FunctionName("RevokeTokens")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.DELETE}, authLevel = AuthorizationLevel.ADMIN,
                    route = "manage/runs/{runId}/tokens")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId) {
        return http.respond(request, () -> ApiResult.ok(access.revoke(new RunId(runId))));
    }
}
