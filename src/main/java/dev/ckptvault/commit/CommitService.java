package dev.ckptvault.commit;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.ContainerStore;
import java.util.Arrays;
import java.util.Map;
import dev.ckptvault.checkpoint.Manifest;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * POST .../commit: stores the manifest once and lets {@link CheckpointSync} decide, from one
 * listing, whether the checkpoint is complete: COMMITTED, or COMMITTING with the missing files
 * (late shards commit it through their events); a conflict when the stored state forbids it.
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

    /**
     * @return the checkpoint, COMMITTED when complete, COMMITTING (or ABANDONED) with its missing files otherwise
     * @throws ConflictException when the stored state forbids this manifest
     */
    public Checkpoint commit(CheckpointId id, JsonNode body) {
        Manifest manifest = Manifest.fromJson(body, id.step().value(), maxFiles);
        byte[] canonical = manifest.canonical();
        Map<BlobName.Kind, StoredBlob> records = store.records(id);
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
            case COMMITTED, COMMITTING, ABANDONED -> c;
            case TAMPERED -> throw new ConflictException(ErrorCodes.CHECKPOINT_COMMITTED,
                    "checkpoint " + id.step() + " was committed and a file changed afterwards (TAMPERED)", "step");
            default -> throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_WRITABLE,
                    "checkpoint " + id.step() + " is " + c.state(), "step");
        };
    }

}
