package dev.ckptvault.storage;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobErrorCode;
import com.azure.storage.blob.models.BlobItem;
import com.azure.storage.blob.models.BlobListDetails;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.ListBlobsOptions;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import com.azure.storage.blob.models.BlobHttpHeaders;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The checkpoint container, as the rest of the app uses it: listings by prefix, create-once
 * writes of app records, conditional replaces, small downloads. Every call is classified by
 * {@link StorageCalls}, so callers see 503-able failures as one exception type.
 */
public final class ContainerStore {
    private final BlobContainerClient container;

    public ContainerStore(BlobContainerClient container) {
        this.container = container;
    }

    public BlobContainerClient client() {
        return container;
    }

    /** The app-written records ('_' names) of one checkpoint, by kind: one listing call. */
    public Map<BlobName.Kind, BlobItem> records(CheckpointId id) {
        Map<BlobName.Kind, BlobItem> out = new EnumMap<>(BlobName.Kind.class);
        for (BlobItem item : list(id.recordsPrefix(), false)) {
            BlobName.parse(item.getName()).ifPresent(n -> {
                if (n instanceof BlobName.Record r) {
                    out.put(r.kind(), item);
                }
            });
        }
        return out;
    }

    /** Every blob under a prefix, with metadata when asked. */
    public List<BlobItem> list(String prefix, boolean metadata) {
        return StorageCalls.call("list " + prefix, () -> {
            ListBlobsOptions options = new ListBlobsOptions().setPrefix(prefix)
                    .setDetails(new BlobListDetails().setRetrieveMetadata(metadata));
            List<BlobItem> items = new ArrayList<>();
            container.listBlobs(options, null).forEach(items::add);
            return items;
        });
    }

    /**
     * Writes a blob only if none exists under that name.
     *
     * @return true when this call created it, false when it existed already
     */
    public boolean createIfAbsent(String blobName, byte[] data, Map<String, String> metadata) {
        return StorageCalls.call("create " + blobName, () -> {
            try {
                upload(blobName, data, metadata, new BlobRequestConditions().setIfNoneMatch("*"));
                return true;
            } catch (BlobStorageException e) {
                if (e.getErrorCode() == BlobErrorCode.BLOB_ALREADY_EXISTS || e.getStatusCode() == 409
                        || e.getStatusCode() == 412) {
                    return false;
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

    private void upload(String blobName, byte[] data, Map<String, String> metadata, BlobRequestConditions cond) {
        container.getBlobClient(blobName).uploadWithResponse(
                new BlobParallelUploadOptions(BinaryData.fromBytes(data))
                        .setHeaders(new BlobHttpHeaders().setContentType("application/json"))
                        .setMetadata(metadata)
                        .setRequestConditions(cond),
                null, null);
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
        return StorageCalls.call("read " + blobName, () -> {
            try {
                return Optional.of(container.getBlobClient(blobName).downloadContent().toBytes());
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404) {
                    return Optional.empty();
                }
                throw e;
            }
        });
    }

    /** A blob's metadata, or empty when the blob does not exist. */
    public Optional<Map<String, String>> metadata(String blobName) {
        return StorageCalls.call("read metadata of " + blobName, () -> {
            try {
                return Optional.of(container.getBlobClient(blobName).getProperties().getMetadata());
            } catch (BlobStorageException e) {
                if (e.getStatusCode() == 404) {
                    return Optional.empty();
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
            var blob = container.getBlobClient(blobName);
            for (int attempt = 0; ; attempt++) {
                com.azure.storage.blob.models.BlobProperties props;
                try {
                    props = blob.getProperties();
                } catch (BlobStorageException e) {
                    if (e.getStatusCode() == 404) {
                        return false;
                    }
                    throw e;
                }
                Map<String, String> merged = new java.util.HashMap<>(props.getMetadata());
                merged.putAll(changes);
                try {
                    blob.setMetadataWithResponse(merged, new BlobRequestConditions().setIfMatch(props.getETag()),
                            null, null);
                    return true;
                } catch (BlobStorageException e) {
                    if (e.getStatusCode() == 404) {
                        return false;
                    }
                    if (e.getStatusCode() != 412 || attempt >= 8) {
                        throw e;
                    }
                }
            }
        });
    }

    /** Reachability probe for health: one cheap call that needs the container to exist. */
    public boolean exists() {
        return StorageCalls.call("check the container", container::exists);
    }
}
