package dev.ckptvault.testing;

import dev.ckptvault.http.ApiResult;
import dev.ckptvault.index.Checkpoint;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.upload.UploadAnswer;
import dev.ckptvault.upload.UploadRequest;
import dev.ckptvault.wiring.AppContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Makes checkpoints the way a trainer does: ask the app for write URLs (which opens the attempt),
 * put the files, then the commit call (which writes the commit record and takes the leases).
 */
public final class CheckpointFixture {
    private final AppContext ctx;

    public CheckpointFixture(AppContext ctx) {
        this.ctx = ctx;
    }

    /** Uploads {@code files} small files of a step (no commit): an UPLOADING checkpoint. */
    public List<String> upload(String run, long step, int files) {
        CheckpointId id = CheckpointId.of(run, step);
        StringBuilder body = new StringBuilder("{\"files\":[");
        for (int i = 0; i < files; i++) {
            body.append(i == 0 ? "" : ",").append("{\"path\":\"rank-").append(i).append("/shard.bin\"}");
        }
        UploadAnswer answer = ctx.uploadService().issue(id,
                UploadRequest.fromJson(Json.parse(body.append("]}").toString(), "body"), 10_000));
        List<String> etags = new ArrayList<>();
        for (UploadAnswer.Upload u : answer.uploads()) {
            // Written with the app's own client to the blob the URL names: tests move the clock,
            // and a SAS whose start lies in storage's future would be refused.
            var item = ctx.storage().container().getBlobClient(u.blobName()).getBlockBlobClient()
                    .upload(com.azure.core.util.BinaryData.fromString("data of " + u.blobName()), true);
            etags.add(item.getETag());
        }
        return etags;
    }

    /** Uploads and commits; returns the checkpoint as the commit answered it. */
    public Checkpoint commit(String run, long step, int files, Map<String, Double> metrics) {
        List<String> etags = upload(run, step, files);
        StringBuilder manifest = new StringBuilder("{\"step\":").append(step).append(",\"files\":[");
        for (int i = 0; i < files; i++) {
            String path = "rank-" + i + "/shard.bin";
            long size = ("data of " + run + "/" + CheckpointId.of(run, step).step().folder() + "/" + path)
                    .getBytes(StandardCharsets.UTF_8).length;
            manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(path).append("\",\"size\":").append(size)
                    .append(",\"etag\":").append(Json.write(etags.get(i))).append(",\"sha256\":\"")
                    .append("ab".repeat(32)).append("\"}");
        }
        manifest.append("],\"metrics\":").append(Json.write(metrics)).append('}');
        ApiResult r = ctx.commitService().commit(CheckpointId.of(run, step), Json.parse(manifest.toString(), "m"));
        if (r.status() != 200) {
            throw new IllegalStateException("commit answered " + r.status() + ": " + Json.write(r.body()));
        }
        return (Checkpoint) r.body();
    }

    /** Every blob name in the container under a prefix, sorted. */
    public List<String> blobs(String prefix) {
        return ctx.store().list(prefix, false).stream().map(b -> b.getName()).sorted().toList();
    }
}
