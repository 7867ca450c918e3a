package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.util.Map;

/**
 * One blob of a listing, reduced to what derivation, retention and the write gate need.
 *
 * @param etag      in the quoted header form (see {@link ETags})
 * @param cool      true when the blob is in the Cool tier
 * @param leased    true when the blob holds a lease
 * @param versionId the current version's id on an account that keeps blob versions (listed with
 *                  versions); null without versioning (Azurite) or when not asked for
 */
public record StoredBlob(String name, long size, String etag, Instant lastModified, Instant createdAt,
                         Map<String, String> metadata, boolean cool, boolean leased, String versionId) {
    public StoredBlob {
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        lastModified = lastModified == null ? Instant.EPOCH : lastModified;
        createdAt = createdAt == null ? lastModified : createdAt;
    }

    public StoredBlob(String name, long size, String etag, Instant lastModified, Instant createdAt,
                      Map<String, String> metadata, boolean cool, boolean leased) {
        this(name, size, etag, lastModified, createdAt, metadata, cool, leased, null);
    }

    /** A metadata value by name, ignoring case (storage treats metadata names case-insensitively). */
    public String metadataValue(String name) {
        for (Map.Entry<String, String> e : metadata.entrySet()) {
            if (e.getKey().equalsIgnoreCase(name)) {
                return e.getValue();
            }
        }
        return null;
    }
}
