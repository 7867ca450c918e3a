package dev.ckptvault.functions;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import dev.ckptvault.commit.CommitService;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.Scope;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import java.util.Optional;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;

/** POST /api/runs/{runId}/checkpoints/{step}/commit (write token): the manifest; 200 COMMITTED or 202 COMMITTING. */
public class CommitCheckpointFunction {
    private final HttpApi http;
    private final RunAccess access;
    private final CommitService commits;

    public CommitCheckpointFunction(HttpApi http, RunAccess access, CommitService commits) {
        this.http = http;
        this.access = access;
        this.commits = commits;
    }

    @FunctionName("CommitCheckpoint")
    public HttpResponseMessage run(
            @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.ANONYMOUS,
                    route = "runs/{runId}/checkpoints/{step:long}/commit")
            HttpRequestMessage<Optional<String>> request,
            @BindingName("runId") String runId,
            @BindingName("step") String step) {
        return http.respond(request, () -> {
            access.authorize(request.getHeaders(), runId, Scope.WRITE);
            Checkpoint c = commits.commit(new CheckpointId(new RunId(runId), Step.parse(step, "step")),
                    http.body(request));
            // 202: accepted, the late shards' blob events commit it; poll GET .../checkpoints/{step}.
            return ApiResult.of(c.state() == CheckpointState.COMMITTED ? 200 : 202, c);
        });
    }
}
