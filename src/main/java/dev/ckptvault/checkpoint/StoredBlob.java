package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.util.Map;

/**
 * One blob of a listing, reduced to what derivation, retention and the write gate need.
 *
 * @param etag   in the quoted header form (see {@link ETags})
 * @param cool   true when the blob is in the Cool tier
 * @param leased true when the blob holds a lease
 */
public record StoredBlob(String name, long size, String etag, Instant lastModified, Instant createdAt,
                         Map<String, String> metadata, boolean cool, boolean leased) {
    public StoredBlob {
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        lastModified = lastModified == null ? Instant.EPOCH : lastModified;
        createdAt = createdAt == null ? lastModified : createdAt;
    }
}
