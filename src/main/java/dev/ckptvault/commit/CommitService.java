package dev.ckptvault.commit;

import com.fasterxml.jackson.databind.JsonNode;
import com.azure.storage.blob.models.BlobItem;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.http.ApiResult;
import dev.ckptvault.index.Checkpoint;
import dev.ckptvault.index.CheckpointState;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.ContainerStore;
import java.util.Arrays;
import java.util.Map;

/**
 * POST .../commit: stores the manifest once and lets {@link CheckpointSync} decide, from one
 * listing, whether the checkpoint is complete. 200 COMMITTED, 202 COMMITTING (with the missing
 * files; late shards commit it through their events), 409 when the stored state forbids it.
 */
public final class CommitService {
    private final ContainerStore store;
    private final CheckpointSync sync;
    private final int maxFiles;

    public CommitService(ContainerStore store, CheckpointSync sync, int maxFiles) {
        this.store = store;
        this.sync = sync;
        this.maxFiles = maxFiles;
    }

    public ApiResult commit(CheckpointId id, JsonNode body) {
        Manifest manifest = Manifest.fromJson(body, id.step().value(), maxFiles);
        byte[] canonical = manifest.canonical();
        Map<BlobName.Kind, BlobItem> records = store.records(id);
        if (records.containsKey(BlobName.Kind.TOMBSTONE)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " of run " + id.run() + " is deleted or being deleted", "step");
        }
        if (!store.createIfAbsent(id.manifestBlob(), canonical, Map.of())) {
            byte[] stored = store.download(id.manifestBlob()).orElse(new byte[0]);
            boolean same = Manifest.parseStored(stored, id.step().value())
                    .map(m -> Arrays.equals(m.canonical(), canonical)).orElse(false);
            if (!same) {
                throw new ConflictException(ErrorCodes.MANIFEST_CONFLICT,
                        "checkpoint " + id.step() + " already has a different manifest", "body");
            }
        }
        Checkpoint c = sync.withFiles(id, sync.refresh(id));
        return switch (c.state()) {
            case COMMITTED -> ApiResult.ok(c);
            case COMMITTING -> ApiResult.of(202, c);
            case ABANDONED -> ApiResult.of(202, c);
            case TAMPERED -> throw new ConflictException(ErrorCodes.CHECKPOINT_COMMITTED,
                    "checkpoint " + id.step() + " was committed and a file changed afterwards (TAMPERED)", "step");
            default -> throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " is " + c.state(), "step");
        };
    }

}
