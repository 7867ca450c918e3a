package dev.ckptvault.storage;

import com.azure.core.http.HttpHeaderName;
import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.AccessTier;
import com.azure.storage.blob.models.BlobDownloadContentResponse;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobHttpHeaders;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobItemProperties;
import com.azure.storage.blob.models.BlobListDetails;
import com.azure.storage.blob.models.BlobProperties;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.LeaseStateType;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.blob.models.BlockBlobItem;
import com.azure.storage.blob.options.BlockBlobSimpleUploadOptions;
import com.azure.storage.blob.specialized.BlobLeaseClientBuilder;
import dev.ckptvault.checkpoint.ETags;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The checkpoint container, the one way the app reaches blobs: listings by prefix, create-once
 * writes of app records, conditional replaces, small downloads, metadata, leases and batches.
 * Answers in the checkpoint model's terms ({@link StoredBlob}), never SDK types, and classifies
 * every failure with {@link StorageCalls}, so callers see 503-able failures as one exception type.
 */
public final class ContainerStore {
    /** Attempts at a read-merge-write of metadata before giving up under contention. */
    private static final int METADATA_ATTEMPTS = 8;

    private final BlobContainerClient container;
    private final BlobBatches batches;

    public ContainerStore(BlobContainerClient container) {
        this.container = container;
        this.batches = new BlobBatches(container);
    }

    /**
     * The app-written records ('_' names) of one checkpoint, by kind, with their metadata (the
     * attempt's renewals, the pin): one listing call.
     */
    public Map<BlobName.Kind, StoredBlob> records(CheckpointId id) {
        Map<BlobName.Kind, StoredBlob> out = new EnumMap<>(BlobName.Kind.class);
        for (StoredBlob blob : list(id.recordsPrefix(), true)) {
            BlobName.parse(blob.name()).ifPresent(n -> {
                if (n instanceof BlobName.Record r) {
                    out.put(r.kind(), blob);
                }
            });
        }
        return out;
    }

    /** Every blob under a prefix, with metadata when asked. */
    public List<StoredBlob> list(String prefix, boolean metadata) {
        return list(prefix, metadata, false);
    }

    /**
     * Every blob under a prefix, with metadata when asked, and with each blob's current version id
     * when {@code versions}: List Blobs {@code include=versions} answers every version with its
     * {@code VersionId} and marks the current one {@code IsCurrentVersion}, in the one listing the
     * caller makes anyway (Get Blob Properties' {@code x-ms-version-id} would cost a call per file).
     * Without versioning (Azurite) the listing is the plain one and version ids are null.
     */
    public List<StoredBlob> list(String prefix, boolean metadata, boolean versions) {
        return StorageCalls.call("list " + prefix, () -> {
            ListBlobsOptions options = new ListBlobsOptions().setPrefix(prefix)
                    .setDetails(new BlobListDetails().setRetrieveMetadata(metadata).setRetrieveVersions(versions));
            List<StoredBlob> items = new ArrayList<>();
            container.listBlobs(options, null).forEach(item -> {
                // Earlier versions, and versions of deleted blobs, are history: not what is stored now.
                if (item.getVersionId() == null || Boolean.TRUE.equals(item.isCurrentVersion())) {
                    items.add(stored(item));
                }
            });
            return items;
        });
    }

    /** The names of the top-level "folders" (prefixes ending in '/'), one listing call per 5,000. */
    public List<String> topLevelFolders() {
        return StorageCalls.call("list top-level prefixes", () -> {
            List<String> out = new ArrayList<>();
            for (BlobItem item : container.listBlobsByHierarchy("/", new ListBlobsOptions(), null)) {
                if (Boolean.TRUE.equals(item.isPrefix()) && item.getName().endsWith("/")) {
                    out.add(item.getName().substring(0, item.getName().length() - 1));
                }
            }
            return out;
        });
    }

    private static StoredBlob stored(BlobItem item) {
        BlobItemProperties p = item.getProperties();
        return new StoredBlob(item.getName(), p.getContentLength() == null ? 0 : p.getContentLength(),
                ETags.normalize(p.getETag()), instant(p.getLastModified()), instant(p.getCreationTime()),
                item.getMetadata(), AccessTier.COOL.equals(p.getAccessTier()),
                LeaseStateType.LEASED.equals(p.getLeaseState()) || LeaseStateType.BREAKING.equals(p.getLeaseState()),
                item.getVersionId());
    }

    private static Instant instant(OffsetDateTime t) {
        return t == null ? null : t.toInstant();
    }

    /**
     * Writes a blob only if none exists under that name.
     *
     * @return true when this call created it, false when it existed already
     */
    public boolean createIfAbsent(String blobName, byte[] data, Map<String, String> metadata) {
        return create(blobName, data, metadata).isPresent();
    }

    /**
     * Writes a blob only if none exists under that name, and answers what storage stored (eTag,
     * Last-Modified in storage's clock, metadata), from the write's own response: no listing
     * needed to learn when it was written.
     *
     * @return the blob as created, or empty when it existed already
     */
    public Optional<StoredBlob> create(String blobName, byte[] data, Map<String, String> metadata) {
        return StorageCalls.call("create " + blobName, () -> {
            try {
                var r = upload(blobName, data, metadata, new BlobRequestConditions().setIfNoneMatch("*"));
                Instant written = instant(r.getLastModified());
                return Optional.of(new StoredBlob(blobName, data.length, ETags.normalize(r.getETag()), written, written,
                        metadata, false, false, r.getVersionId()));
            } catch (BlobStorageException e) {
                if (e.getErrorCode() == BlobErrorCode.BLOB_ALREADY_EXISTS || e.getStatusCode() == 409
                        || e.getStatusCode() == 412) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    /**
     * Replaces a blob only if it is still the version the caller saw.
     *
     * @return true when replaced, false when someone else changed or removed it first
     */
    public boolean replaceIfMatch(String blobName, String eTag, byte[] data, Map<String, String> metadata) {
        return StorageCalls.call("replace " + blobName, () -> {
            try {
                upload(blobName, data, metadata, new BlobRequestConditions().setIfMatch(eTag));
                return true;
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 412 || e.getStatusCode() == 404 || e.getStatusCode() == 409) {
                    return false;
                }
                throw e;
            }
        });
    }

    /**
     * One Put Blob of a small app record. The block blob client's simple upload, not the parallel
     * upload: for a few hundred bytes both send one Put Blob, but the parallel path's buffering
     * cost about a millisecond per record (CPU) on top of the round trip.
     */
    private BlockBlobItem upload(String blobName, byte[] data, Map<String, String> metadata,
                                 BlobRequestConditions cond) {
        return container.getBlobClient(blobName).getBlockBlobClient().uploadWithResponse(
                new BlockBlobSimpleUploadOptions(BinaryData.fromBytes(data))
                        .setHeaders(new BlobHttpHeaders().setContentType("application/json"))
                        .setMetadata(metadata)
                        .setRequestConditions(cond),
                null, null).getValue();
    }

    /** Deletes a blob if it is still the version the caller saw; a missing blob is fine. */
    public boolean deleteIfMatch(String blobName, String eTag) {
        return StorageCalls.call("delete " + blobName, () -> {
            try {
                container.getBlobClient(blobName).deleteWithResponse(null,
                        new BlobRequestConditions().setIfMatch(eTag), null, null);
                return true;
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404 || e.getStatusCode() == 412) {
                    return false;
                }
                throw e;
            }
        });
    }

    /** The content of a small blob (an app record), or empty when it does not exist. */
    public Optional<byte[]> download(String blobName) {
        return read(blobName).map(Content::data);
    }

    /** A small blob's content with the eTag (quoted, as everywhere in the app) and metadata of the version read. */
    public record Content(byte[] data, String etag, Map<String, String> metadata) {
        public Content {
            metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        }

    }

    /**
     * The content of a small blob with its eTag and metadata, from one download (for a
     * conditional replace or metadata change), or empty when it does not exist.
     */
    public Optional<Content> read(String blobName) {
        return StorageCalls.call("read " + blobName, () -> {
            try {
                BlobDownloadContentResponse r = container.getBlobClient(blobName)
                        .downloadContentWithResponse(null, null, null, null);
                return Optional.of(new Content(r.getValue().toBytes(),
                        ETags.normalize(r.getDeserializedHeaders().getETag()), r.getDeserializedHeaders().getMetadata()));
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    /** A blob's current eTag, or empty when the blob does not exist. */
    public Optional<String> etag(String blobName) {
        return properties(blobName).map(p -> ETags.normalize(p.getETag()));
    }

    /** A blob's metadata, or empty when the blob does not exist. */
    public Optional<Map<String, String>> metadata(String blobName) {
        return properties(blobName).map(BlobProperties::getMetadata);
    }

    private Optional<BlobProperties> properties(String blobName) {
        return StorageCalls.call("read properties of " + blobName, () -> {
            try {
                return Optional.of(container.getBlobClient(blobName).getProperties());
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    /**
     * Replaces a blob's metadata only if the blob is still the version the caller listed.
     *
     * @return false when it changed or vanished since (another writer got there first)
     */
    public boolean setMetadataIfMatch(String blobName, String eTag, Map<String, String> metadata) {
        return StorageCalls.call("set metadata of " + blobName, () -> {
            try {
                container.getBlobClient(blobName).setMetadataWithResponse(metadata,
                        new BlobRequestConditions().setIfMatch(eTag), null, null);
                return true;
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 412 || e.getStatusCode() == 404 || e.getStatusCode() == 409) {
                    return false;
                }
                throw e;
            }
        });
    }

    /**
     * Sets some metadata entries of a blob and keeps the others (Set Blob Metadata replaces all of
     * them, so this reads, merges and writes on the eTag read, retrying when another writer won).
     *
     * @return false when the blob does not exist
     */
    public boolean mergeMetadata(String blobName, Map<String, String> changes) {
        return StorageCalls.call("set metadata of " + blobName, () -> {
            BlobClient blob = container.getBlobClient(blobName);
            for (int attempt = 0; ; attempt++) {
                BlobProperties props;
                try {
                    props = blob.getProperties();
                } catch (BlobStorageException e) {
                    if (e.getStatusCode() == 404) {
                        return false;
                    }
                    throw e;
                }
                Map<String, String> merged = new HashMap<>(props.getMetadata());
                merged.putAll(changes);
                try {
                    blob.setMetadataWithResponse(merged, new BlobRequestConditions().setIfMatch(props.getETag()),
                            null, null);
                    return true;
                } catch (BlobStorageException e) {
                    if (e.getStatusCode() == 404) {
                        return false;
                    }
                    if (e.getStatusCode() != 412 || attempt >= METADATA_ATTEMPTS) {
                        throw e;
                    }
                }
            }
        });
    }

    /** What acquiring a lease found. */
    public enum LeaseStatus {
        /** Leased now under the id given (or already was). */
        ACQUIRED,
        /** The blob does not exist. */
        MISSING,
        /** The blob is leased under another id. */
        HELD_BY_OTHER
    }

    /** @param etag the blob's eTag under the lease; null unless ACQUIRED */
    public record Lease(LeaseStatus status, String etag) {
    }

    /** Takes (or confirms) an infinite lease with the caller's id. */
    public Lease acquireLease(String blobName, String leaseId) {
        return StorageCalls.call("lease " + blobName, () -> {
            try {
                var response = new BlobLeaseClientBuilder().blobClient(container.getBlobClient(blobName))
                        .leaseId(leaseId).buildClient().acquireLeaseWithResponse(-1, null, null, null);
                return new Lease(LeaseStatus.ACQUIRED, ETags.normalize(response.getHeaders().getValue(HttpHeaderName.ETAG)));
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404) {
                    return new Lease(LeaseStatus.MISSING, null);
                }
                if (e.getStatusCode() == 409) {
                    return new Lease(LeaseStatus.HELD_BY_OTHER, null);
                }
                throw e;
            }
        });
    }

    /** Breaks any lease on a blob at once; a blob without a lease, or without existence, is fine. */
    public void breakLease(String blobName) {
        StorageCalls.run("break the lease of " + blobName, () -> {
            try {
                new BlobLeaseClientBuilder().blobClient(container.getBlobClient(blobName)).buildClient()
                        .breakLeaseWithResponse(0, null, null, null);
            } catch (BlobStorageException e) {
                if (e.getStatusCode() != 404 && e.getStatusCode() != 409) {
                    throw e;
                }
            }
        });
    }

    /** Deletes one blob (and its snapshots); a missing blob is fine. */
    public void delete(String blobName) {
        StorageCalls.run("delete " + blobName, () -> {
            try {
                container.getBlobClient(blobName).deleteIfExists();
            } catch (BlobStorageException e) {
                if (e.getStatusCode() != 404) {
                    throw e;
                }
            }
        });
    }

    /** One blob of a batch; {@code leaseId} when it is leased under an id the caller holds, else null. */
    public record Target(String blobName, String leaseId) {
    }

    /**
     * Deletes many blobs with the Blob Batch API (one round trip per 256). Missing blobs count as deleted.
     *
     * @return names whose lease refused the delete (held under another id, or none given)
     */
    public List<String> deleteAll(List<Target> targets) {
        return batches.delete(targets);
    }

    /** Deletes blobs that hold no lease (e.g. files about to be rewritten); returns those a lease kept. */
    public List<String> deleteUnleased(List<String> blobNames) {
        return deleteAll(blobNames.stream().map(n -> new Target(n, null)).toList());
    }

    /**
     * Deletes those of the given blobs that were last written before {@code before} (storage's
     * clock, whole seconds as Last-Modified has them) and hold no lease, with one Blob Batch per
     * 256 (each delete conditional: If-Unmodified-Since one second earlier). A blob written at or
     * after {@code before}, even while this runs, is kept: storage decides, not a listing read earlier.
     *
     * @return names kept by the condition or a lease
     */
    public List<String> deleteWrittenBefore(List<String> blobNames, Instant before) {
        return batches.deleteUnmodifiedSince(blobNames,
                before.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).minusSeconds(1).atOffset(java.time.ZoneOffset.UTC));
    }

    /**
     * Moves many blobs to the Cool tier with the Blob Batch API.
     *
     * @return names whose lease refused the change
     */
    public List<String> coolAll(List<Target> targets) {
        return batches.cool(targets);
    }

    /** Reachability probe for health: one cheap call that needs the container to exist. */
    public boolean exists() {
        return StorageCalls.call("check the container", container::exists);
    }
}
