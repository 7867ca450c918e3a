package dev.ckptvault.testing;

import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.access.Scope;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.functions.BlobEventsFunction;
import dev.ckptvault.functions.CommitCheckpointFunction;
import dev.ckptvault.functions.GetCheckpointFunction;
import dev.ckptvault.functions.GetLatestCheckpointFunction;
import dev.ckptvault.functions.RequestUploadsFunction;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a trainer does, through the app's function classes and the issued URLs (plain HTTP), plus
 * what Event Grid would deliver for each write, built from the documented sample payloads. The
 * one fixture that uploads and commits. Every call carries a write token of its run, issued by the
 * app's own RunAccess at the app's clock (tests move it), as a job launcher would hand one out.
 */
public final class Trainer {
    private final TestApp app;

    public Trainer(TestApp app) {
        this.app = app;
    }

    public record Call(int status, JsonNode body, String text) {
    }

    /**
     * One answer of a function, checked against docs/openapi.yaml: every test that drives the app
     * through this fixture also checks that the description says what the app answers.
     *
     * @param path the route as the description writes it
     */
    private static Call call(String method, String path, Object response) {
        LocalHttpResponse r = (LocalHttpResponse) response;
        String text = r.bodyText();
        ApiContract.get().check(method, path, r.getStatusCode(), text);
        return new Call(r.getStatusCode(), text.isEmpty() ? null : Json.parse(text, "response"), text);
    }

    public Call uploads(String run, long step, List<String> paths) {
        StringBuilder b = new StringBuilder("{\"files\":[");
        for (int i = 0; i < paths.size(); i++) {
            b.append(i == 0 ? "" : ",").append("{\"path\":\"").append(paths.get(i)).append("\"}");
        }
        b.append("]}");
        Call answer = call("POST", "/runs/{runId}/checkpoints/{step}/uploads", app.function(RequestUploadsFunction.class)
                .run(post(run, "/api/runs/" + run + "/checkpoints/" + step + "/uploads", b.toString()), run,
                        Long.toString(step)));
        // A fresh step's attempt record and index rows are written beside the request. Tests read the
        // index straight after the answer, sooner than a trainer's next call comes: wait, as the
        // app's own reads of the step do.
        if (answer.status() == 200) {
            app.sync.get(CheckpointId.of(run, step));
        }
        return answer;
    }

    /** Asks for URLs and PUTs each file's bytes; returns path -> eTag. */
    public Map<String, String> write(String run, long step, Map<String, byte[]> files) throws Exception {
        Call u = uploads(run, step, List.copyOf(files.keySet()));
        if (u.status() != 200) {
            throw new AssertionError("uploads answered " + u.status() + ": " + u.text());
        }
        Map<String, String> etags = new LinkedHashMap<>();
        for (JsonNode up : u.body().get("uploads")) {
            HttpResponse<String> r = Http.putBlob(up.get("url").asText(), files.get(up.get("path").asText()));
            if (r.statusCode() != 201) {
                throw new AssertionError("PUT answered " + r.statusCode() + ": " + r.body());
            }
            etags.put(up.get("path").asText(), r.headers().firstValue("ETag").orElseThrow());
        }
        return etags;
    }

    /**
     * POSTs a manifest of the given files. Every real manifest names each file's eTag; {@code etags}
     * null (or without a path) sends sizes only, what the service must refuse (400).
     */
    public Call commit(String run, long step, Map<String, Long> sizes, Map<String, String> etags,
                       Map<String, Double> metrics) {
        StringBuilder b = new StringBuilder("{\"step\":" + step + ",\"files\":[");
        int i = 0;
        for (Map.Entry<String, Long> f : sizes.entrySet()) {
            b.append(i++ == 0 ? "" : ",").append("{\"path\":\"").append(f.getKey()).append("\",\"size\":")
                    .append(f.getValue());
            if (etags != null && etags.get(f.getKey()) != null) {
                b.append(",\"etag\":").append(Json.write(etags.get(f.getKey())));
            }
            b.append("}");
        }
        b.append("],\"metrics\":").append(Json.write(metrics == null ? Map.of() : metrics)).append("}");
        return commitRaw(run, step, b.toString());
    }

    public Call commitRaw(String run, long step, String body) {
        return call("POST", "/runs/{runId}/checkpoints/{step}/commit", app.function(CommitCheckpointFunction.class)
                .run(post(run, "/api/runs/" + run + "/checkpoints/" + step + "/commit", body), run, Long.toString(step)));
    }

    /**
     * Asks for URLs for {@code files} small files ({@code rank-i/shard.bin}) and writes them, no
     * commit: an UPLOADING checkpoint. Written with the app's own client to the blobs the URLs
     * name: tests move the clock, and a SAS whose start lies in storage's future would be refused.
     *
     * @return each file's eTag, in file order
     */
    public List<String> writeSmall(String run, long step, int files) {
        List<String> paths = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            paths.add("rank-" + i + "/shard.bin");
        }
        Call u = uploads(run, step, paths);
        if (u.status() != 200) {
            throw new AssertionError("uploads answered " + u.status() + ": " + u.text());
        }
        List<String> etags = new ArrayList<>();
        for (JsonNode up : u.body().get("uploads")) {
            String blob = up.get("blobName").asText();
            etags.add(app.storage.container().getBlobClient(blob).getBlockBlobClient()
                    .upload(BinaryData.fromString(smallContent(blob)), true).getETag());
        }
        return etags;
    }

    private static String smallContent(String blobName) {
        return "data of " + blobName;
    }

    /** {@link #writeSmall} and the commit of all of it; returns the COMMITTED checkpoint as the commit answered it. */
    public Checkpoint commitSmall(String run, long step, int files, Map<String, Double> metrics) {
        List<String> etags = writeSmall(run, step, files);
        CheckpointId id = CheckpointId.of(run, step);
        StringBuilder manifest = new StringBuilder("{\"step\":").append(step).append(",\"files\":[");
        for (int i = 0; i < files; i++) {
            String path = "rank-" + i + "/shard.bin";
            long size = smallContent(id.prefix() + path).getBytes(StandardCharsets.UTF_8).length;
            manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(path).append("\",\"size\":").append(size)
                    .append(",\"etag\":").append(Json.write(etags.get(i))).append(",\"sha256\":\"")
                    .append("ab".repeat(32)).append("\"}");
        }
        manifest.append("],\"metrics\":").append(Json.write(metrics)).append('}');
        Checkpoint c = app.commits.commit(id, Json.parse(manifest.toString(), "manifest"));
        if (c.state() != CheckpointState.COMMITTED) {
            throw new IllegalStateException("commit answered " + c.state() + ": " + Json.write(c));
        }
        return c;
    }

    public Call latest(String run) {
        return call("GET", "/runs/{runId}/checkpoints/latest", app.function(GetLatestCheckpointFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/" + run + "/checkpoints/latest", Map.of(), null,
                        bearer(run)), run));
    }

    public Call get(String run, long step, boolean downloads) {
        return call("GET", "/runs/{runId}/checkpoints/{step}", app.function(GetCheckpointFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET,
                "/api/runs/" + run + "/checkpoints/" + step, downloads ? Map.of("downloads", "true") : Map.of(), null,
                bearer(run)),
                run, Long.toString(step)));
    }

    /** Every blob name in the container under a prefix, sorted. */
    public List<String> blobs(String prefix) {
        return app.store.list(prefix, false).stream().map(StoredBlob::name).sorted().toList();
    }

    /** Delivers the BlobCreated event Event Grid would send for the blob as it is now. */
    public void deliverCreated(String blobName, EventSamples.Schema schema) {
        var props = app.storage.container().getBlobClient(blobName).getProperties();
        deliver(EventSamples.created(schema, app.storage.blobService().getAccountName(), app.config.container(),
                blobName, props.getETag(), props.getBlobSize(), EventSamples.nextSequencer()));
    }

    public void deliverDeleted(String blobName, EventSamples.Schema schema) {
        deliver(EventSamples.deleted(schema, app.storage.blobService().getAccountName(), app.config.container(),
                blobName, EventSamples.nextSequencer()));
    }

    public void deliver(String eventJson) {
        app.function(BlobEventsFunction.class).run(eventJson, null);
    }

    private LocalHttpRequest post(String run, String path, String body) {
        return LocalHttpRequest.of(HttpMethod.POST, path, Map.of(), body, bearer(run));
    }

    /** The Authorization header with a fresh write token of {@code run}, valid as long as the app allows. */
    public Map<String, String> bearer(String run) {
        return Map.of("authorization", "Bearer "
                + app.access.issue(new RunId(run), Scope.WRITE, app.config.tokenMaxLifetime()).token());
    }
}
