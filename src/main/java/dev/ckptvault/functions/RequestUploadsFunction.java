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
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import dev.ckptvault.upload.UploadRequest;
import dev.ckptvault.upload.UploadService;
import java.util.Optional;

/** POST /api/runs/{runId}/checkpoints/{step}/uploads (write token): write URLs for one rank's files, none outliving the token. */
public class RequestUploadsFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final UploadService uploads;
    private final int maxFiles;

    public RequestUploadsFunction(HttpApi http, RunAccess access, UploadService uploads, int maxFiles) {
        this.http = http;
        this.access = access;
        this.uploads = uploads;
        this.maxFiles = maxFiles;
    }

    @FunctionName("RequestUploads")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/checkpoints/{step:long}/uploads")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId,
            @BindingName("step") String step) {
        return http.respond(request, () -> {
            Grant grant = access.authorize(request.getHeaders(), runId, Scope.WRITE);
            return ApiResult.ok(uploads.issue(new CheckpointId(new RunId(runId), Step.parse(step, "step")),
                    UploadRequest.fromJson(http.body(request), maxFiles), grant.expiresAt()));
        });
    }
}
