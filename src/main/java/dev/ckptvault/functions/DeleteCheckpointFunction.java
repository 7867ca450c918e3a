package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import dev.ckptvault.lifecycle.RetentionService;
import java.util.Optional;

/** DELETE /api/runs/{runId}/checkpoints/{step} (admin): deletes now; {@code ?force=true} for the only committed or a pinned one. */
public class DeleteCheckpointFunction {
    private final HttpApi http;
    private final RetentionService retention;

    public DeleteCheckpointFunction(HttpApi http, RetentionService retention) {
        this.http = http;
        this.retention = retention;
    }

    @FunctionName("DeleteCheckpoint")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.DELETE}, authLevel = AuthorizationLevel.ADMIN,
                    route = "runs/{runId}/checkpoints/{step:long}")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId,
            @BindingName("step") String step) {
        return http.respond(request, () -> ApiResult.ok(retention.deleteNow(
                new CheckpointId(new RunId(runId), Step.parse(step, "step")),
                force(request.getQueryParameters().get("force")))));
    }

    private static boolean force(String value) {
        if (value == null || value.equals("false")) {
            return false;
        }
        if (value.equals("true")) {
            return true;
        }
        throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "force must be true or false", "force");
    }
}
