package dev.ckptvault.index;

import com.azure.storage.blob.models.BlobItem;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** One listing of a checkpoint's prefix, sorted into files (by relative path) and app records. */
public record StepListing(CheckpointId id, Map<String, StoredBlob> files, StoredBlob manifest, StoredBlob commit,
                          StoredBlob tombstone, StoredBlob attempt) {
    public StepListing {
        files = new TreeMap<>(files);
    }

    public static StepListing of(CheckpointId id, List<BlobItem> items) {
        Map<String, StoredBlob> files = new TreeMap<>();
        StoredBlob manifest = null;
        StoredBlob commit = null;
        StoredBlob tombstone = null;
        StoredBlob attempt = null;
        for (BlobItem item : items) {
            BlobName name = BlobName.parse(item.getName()).orElse(null);
            if (name instanceof BlobName.File f && f.checkpoint().equals(id)) {
                files.put(f.path().value(), StoredBlob.of(item));
            } else if (name instanceof BlobName.Record r && r.checkpoint().equals(id)) {
                StoredBlob b = StoredBlob.of(item);
                switch (r.kind()) {
                    case MANIFEST -> manifest = b;
                    case COMMIT -> commit = b;
                    case TOMBSTONE -> tombstone = b;
                    case ATTEMPT -> attempt = b;
                    default -> throw new IllegalStateException(r.kind().name());
                }
            }
        }
        return new StepListing(id, files, manifest, commit, tombstone, attempt);
    }

    public boolean isEmpty() {
        return files.isEmpty() && manifest == null && commit == null && tombstone == null && attempt == null;
    }
}
