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
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import dev.ckptvault.lifecycle.RetentionService;
import java.util.Optional;

/** PUT /api/runs/{runId}/checkpoints/{step}/pin (admin): protects a COMMITTED checkpoint from retention. */
public class PinFunction {
    private final HttpApi http;
    private final RetentionService retention;

    public PinFunction(HttpApi http, RetentionService retention) {
        this.http = http;
        this.retention = retention;
    }

    @FunctionName("Pin")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.PUT}, authLevel = AuthorizationLevel.ADMIN,
                    route = "runs/{runId}/checkpoints/{step:long}/pin")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId,
            @BindingName("step") String step) {
        return http.respond(request, () -> ApiResult.ok(retention.pin(
                new CheckpointId(new RunId(runId), Step.parse(step, "step")), true)));
    }
}
