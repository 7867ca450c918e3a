package dev.ckptvault.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.wiring.AppContext;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import dev.ckptvault.layout.RunId;

/** The uploads function called as the Functions host would: request in, status + JSON out. */
class RequestUploadsFunctionTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;
    static RequestUploadsFunction function;

    @BeforeAll
    static void setUp() {
        ctx = AZURITE.app(Map.of("CKPT_MAX_FILES_PER_REQUEST", "50", "CKPT_MAX_BODY_BYTES", "4096"),
                Clock.systemUTC());
        function = ctx.function(RequestUploadsFunction.class);
    }

    /** With a write token of the run, or of another run where the run id cannot be one. */
    static LocalHttpResponse call(String runId, String step, String body) {
        LocalHttpRequest req = LocalHttpRequest.of(HttpMethod.POST,
                "/api/runs/" + runId + "/checkpoints/" + step + "/uploads", Map.of(), body,
                new Trainer(ctx).bearer(RunId.isValid(runId) ? runId : "some-run"));
        return (LocalHttpResponse) function.run(req, runId, step);
    }

    static JsonNode json(LocalHttpResponse r) {
        return Json.parse(r.bodyText(), "response");
    }

    @Test
    void answersOneScopedWriteUrlPerFile() {
        LocalHttpResponse r = call("run-a", "1200",
                "{\"files\":[{\"path\":\"rank-00000/model.safetensors\",\"size\":123},"
                        + "{\"path\":\"rank-00000/optim.pt\",\"size\":45}],\"expiresInMinutes\":30}");
        assertEquals(200, r.getStatusCode(), r.bodyText());
        assertTrue(r.getHeader("Content-Type").startsWith("application/json"));
        JsonNode body = json(r);
        assertEquals("run-a", body.get("runId").asText());
        assertEquals(1200, body.get("step").asLong());
        assertTrue(body.hasNonNull("expiresOn"));
        assertEquals(2, body.get("uploads").size());
        JsonNode first = body.get("uploads").get(0);
        assertEquals("rank-00000/model.safetensors", first.get("path").asText());
        assertEquals("run-a/step-000000001200/rank-00000/model.safetensors", first.get("blobName").asText());
        assertTrue(first.get("url").asText().contains("/checkpoints/run-a/step-000000001200/rank-00000/model.safetensors?"));
        assertTrue(first.get("url").asText().contains("sp=cw"));
        assertTrue(ctx.storage.container().getBlobClient("run-a/_run.json").exists(), "first call creates the run");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "bad run id      | -run  | 1     | {\"files\":[{\"path\":\"a\"}]}                         | 400 | InvalidRunId  | runId",
            "negative step   | r     | -1    | {\"files\":[{\"path\":\"a\"}]}                         | 400 | InvalidStep   | step",
            "huge step       | r     | 1000000000000 | {\"files\":[{\"path\":\"a\"}]}                 | 400 | InvalidStep   | step",
            "text step       | r     | abc   | {\"files\":[{\"path\":\"a\"}]}                         | 400 | InvalidStep   | step",
            "not json        | r     | 1     | {files:                                                | 400 | InvalidJson   | body",
            "json array      | r     | 1     | []                                                     | 400 | InvalidRequest| body",
            "no files        | r     | 1     | {}                                                     | 400 | InvalidRequest| files",
            "files not array | r     | 1     | {\"files\":3}                                          | 400 | InvalidRequest| files",
            "empty files     | r     | 1     | {\"files\":[]}                                         | 400 | InvalidRequest| files",
            "dot dot path    | r     | 1     | {\"files\":[{\"path\":\"a\"},{\"path\":\"../x\"}]}     | 400 | InvalidPath   | files[1].path",
            "encoded dots    | r     | 1     | {\"files\":[{\"path\":\"%2e%2e/x\"}]}                  | 400 | InvalidPath   | files[0].path",
            "reserved name   | r     | 1     | {\"files\":[{\"path\":\"_manifest.json\"}]}            | 400 | InvalidPath   | files[0].path",
            "path not string | r     | 1     | {\"files\":[{\"path\":5}]}                             | 400 | InvalidRequest| files[0].path",
            "missing path    | r     | 1     | {\"files\":[{\"size\":5}]}                             | 400 | InvalidRequest| files[0].path",
            "negative size   | r     | 1     | {\"files\":[{\"path\":\"a\",\"size\":-1}]}             | 400 | InvalidRequest| files[0].size",
            "fraction size   | r     | 1     | {\"files\":[{\"path\":\"a\",\"size\":1.5}]}            | 400 | InvalidRequest| files[0].size",
            "duplicate       | r     | 1     | {\"files\":[{\"path\":\"a\"},{\"path\":\"b\"},{\"path\":\"a\"}]} | 400 | DuplicatePath | files[2].path",
            "zero minutes    | r     | 1     | {\"files\":[{\"path\":\"a\"}],\"expiresInMinutes\":0}  | 400 | InvalidRequest| expiresInMinutes",
            "text minutes    | r     | 1     | {\"files\":[{\"path\":\"a\"}],\"expiresInMinutes\":\"5\"} | 400 | InvalidRequest| expiresInMinutes",
    })
    void badInputGetsA4xxNamingTheField(String name, String run, String step, String body, int status, String code,
                                        String target) {
        LocalHttpResponse r = call(run, step, body);
        assertEquals(status, r.getStatusCode(), r.bodyText());
        JsonNode error = json(r).get("error");
        assertEquals(code, error.get("code").asText());
        assertEquals(target, error.get("target").asText());
        assertFalse(r.bodyText().contains("at dev.ckptvault"), "no stack trace");
    }

    @Test
    void tooManyFilesIsRefused() {
        StringBuilder b = new StringBuilder("{\"files\":[");
        for (int i = 0; i < 51; i++) {
            b.append(i == 0 ? "" : ",").append("{\"path\":\"f").append(i).append("\"}");
        }
        LocalHttpResponse r = call("many", "1", b.append("]}").toString());
        // 51 short entries fit the 4 KiB body limit of this test's config, so the count is what fails.
        assertTrue(b.length() < 4096);
        assertEquals(400, r.getStatusCode(), r.bodyText());
        assertEquals("TooManyFiles", json(r).get("error").get("code").asText());
    }

    @Test
    void anOversizedBodyIs413() {
        String body = "{\"files\":[{\"path\":\"" + "a".repeat(5000) + "\"}]}";
        LocalHttpResponse r = call("big", "1", body);
        assertEquals(413, r.getStatusCode());
        assertEquals("BodyTooLarge", json(r).get("error").get("code").asText());
    }

    @Test
    void aCommittedCheckpointGets409() {
        CheckpointId id = CheckpointId.of("committed", 5);
        ctx.store.createIfAbsent(id.commitBlob(), "{}".getBytes(StandardCharsets.UTF_8), Map.of());
        LocalHttpResponse r = call("committed", "5", "{\"files\":[{\"path\":\"a.bin\"}]}");
        assertEquals(409, r.getStatusCode());
        assertEquals("CheckpointCommitted", json(r).get("error").get("code").asText());
    }

    @Test
    void whileCommittingOnlyListedFilesGetUrls() {
        CheckpointId id = CheckpointId.of("committing", 7);
        ctx.store.createIfAbsent(id.manifestBlob(),
                "{\"step\":7,\"files\":[{\"path\":\"rank-0/a.bin\",\"size\":3,\"etag\":\"\\\"0x8D1\\\"\"}]}"
                        .getBytes(StandardCharsets.UTF_8),
                Map.of());
        assertEquals(200, call("committing", "7", "{\"files\":[{\"path\":\"rank-0/a.bin\"}]}").getStatusCode());
        LocalHttpResponse r = call("committing", "7",
                "{\"files\":[{\"path\":\"rank-0/a.bin\"},{\"path\":\"rank-0/late.bin\"}]}");
        assertEquals(409, r.getStatusCode());
        assertEquals("CheckpointNotWritable", json(r).get("error").get("code").asText());
        assertEquals("files[1].path", json(r).get("error").get("target").asText());
    }

    @Test
    void storageDownIs503WithoutLeakingTheKey() throws Exception {
        AppContext down = new AppContext(dev.ckptvault.config.CkptConfig.fromMap(Map.of(
                "CKPT_STORAGE", dev.ckptvault.local.AzuriteProcess.connectionString(1, 2),
                "CKPT_SWEEP_SCHEDULE", "0 */5 * * * *")), Clock.systemUTC());
        // A well-formed token (of the healthy app's key): checking it needs the key ring, in storage.
        LocalHttpRequest req = LocalHttpRequest.of(HttpMethod.POST, "/api/runs/r/checkpoints/1/uploads", Map.of(),
                "{\"files\":[{\"path\":\"a\"}]}", new Trainer(ctx).bearer("r"));
        LocalHttpResponse r = (LocalHttpResponse) down.function(RequestUploadsFunction.class).run(req, "r", "1");
        assertEquals(503, r.getStatusCode(), r.bodyText());
        assertEquals("StorageUnavailable", json(r).get("error").get("code").asText());
        assertFalse(r.bodyText().contains(dev.ckptvault.config.StorageSettings.EMULATOR_KEY));
    }
}
