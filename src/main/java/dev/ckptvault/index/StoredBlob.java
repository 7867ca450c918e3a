package dev.ckptvault.index;

import com.azure.storage.blob.models.AccessTier;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobItemProperties;
import com.azure.storage.blob.models.LeaseStateType;
import dev.ckptvault.storage.ETags;
import java.time.Instant;
import java.util.Map;

/** One blob of a listing, reduced to what derivation needs. */
public record StoredBlob(String name, long size, String etag, Instant lastModified, Instant createdAt,
                         Map<String, String> metadata, boolean cool, boolean leased) {
    public StoredBlob {
        metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
    }

    public static StoredBlob of(BlobItem item) {
        BlobItemProperties p = item.getProperties();
        Instant modified = p.getLastModified() == null ? Instant.EPOCH : p.getLastModified().toInstant();
        Instant created = p.getCreationTime() == null ? modified : p.getCreationTime().toInstant();
        return new StoredBlob(item.getName(), p.getContentLength() == null ? 0 : p.getContentLength(),
                ETags.normalize(p.getETag()), modified, created, item.getMetadata(),
                AccessTier.COOL.equals(p.getAccessTier()),
                LeaseStateType.LEASED.equals(p.getLeaseState()));
    }
}
