package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import java.util.Optional;

/**
 * POST /api/manage/signing-keys/rotate (admin): a new key signs tokens from now on; the replaced
 * key still verifies until the longest token it can have signed has expired. Answers key ids and
 * times, never a key -> {@code {"current","verifying":[{"kid","verifyUntil"}]}}.
 */
public class RotateSigningKeyFunction {
    private final HttpApi http;
    private final RunAccess access;

    public RotateSigningKeyFunction(HttpApi http, RunAccess access) {
        this.http = http;
        this.access = access;
    }

    @FunctionName("RotateSigningKey")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ADMIN,
                    route = "manage/signing-keys/rotate")
            HttpRequestMessage<Optional<String>> request) {
        return http.respond(request, () -> ApiResult.ok(access.rotate()));
    }
}
