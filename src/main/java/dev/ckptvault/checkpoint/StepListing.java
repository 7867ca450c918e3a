package dev.ckptvault.checkpoint;

import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One listing of a checkpoint's prefix, sorted into files (by relative path) and app records.
 *
 * @param listed every blob the listing showed, those outside the layout included
 */
public record StepListing(CheckpointId id, Map<String, StoredBlob> files, StoredBlob manifest, StoredBlob commit,
                          StoredBlob tombstone, StoredBlob attempt, List<StoredBlob> listed) {
    public StepListing {
        files = new TreeMap<>(files);
        listed = List.copyOf(listed);
    }

    /** A listing made of exactly these files and records. */
    public StepListing(CheckpointId id, Map<String, StoredBlob> files, StoredBlob manifest, StoredBlob commit,
                       StoredBlob tombstone, StoredBlob attempt) {
        this(id, files, manifest, commit, tombstone, attempt, java.util.stream.Stream.concat(files.values().stream(),
                java.util.stream.Stream.of(manifest, commit, tombstone, attempt).filter(java.util.Objects::nonNull))
                .toList());
    }

    public static StepListing of(CheckpointId id, List<StoredBlob> items) {
        Map<String, StoredBlob> files = new TreeMap<>();
        StoredBlob manifest = null;
        StoredBlob commit = null;
        StoredBlob tombstone = null;
        StoredBlob attempt = null;
        for (StoredBlob item : items) {
            BlobName name = BlobName.parse(item.name()).orElse(null);
            if (name instanceof BlobName.File f && f.checkpoint().equals(id)) {
                files.put(f.path().value(), item);
            } else if (name instanceof BlobName.Record r && r.checkpoint().equals(id)) {
                switch (r.kind()) {
                    case MANIFEST -> manifest = item;
                    case COMMIT -> commit = item;
                    case TOMBSTONE -> tombstone = item;
                    case ATTEMPT -> attempt = item;
                    default -> throw new IllegalStateException(r.kind().name());
                }
            }
        }
        return new StepListing(id, files, manifest, commit, tombstone, attempt, items);
    }

    public boolean isEmpty() {
        return files.isEmpty() && manifest == null && commit == null && tombstone == null && attempt == null;
    }
}
