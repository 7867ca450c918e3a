package dev.ckptvault.storage;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.batch.BlobBatchClient;
import com.azure.storage.blob.batch.BlobBatchClientBuilder;
import com.azure.storage.blob.batch.BlobBatchStorageException;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.DeleteSnapshotsOptionType;
import java.util.ArrayList;
import java.util.List;

/**
 * Deletes many blobs with the Blob Batch API: one round trip per 256 blobs instead of one per blob.
 * Missing blobs count as deleted.
 */
public final class BlobDeletes {
    /** The Blob Batch API takes at most 256 sub-requests. */
    public static final int BATCH = 256;

    private final BlobContainerClient container;
    private final BlobBatchClient batch;

    public BlobDeletes(BlobContainerClient container) {
        this.container = container;
        this.batch = new BlobBatchClientBuilder(container).buildClient();
    }

    /** @return how many sub-requests failed for another reason than a missing blob (e.g. a lease) */
    public int delete(List<String> blobNames) {
        int failed = 0;
        for (int i = 0; i < blobNames.size(); i += BATCH) {
            List<String> urls = new ArrayList<>();
            for (String n : blobNames.subList(i, Math.min(blobNames.size(), i + BATCH))) {
                urls.add(container.getBlobClient(n).getBlobUrl());
            }
            failed += StorageCalls.call("delete blobs", () -> {
                int bad = 0;
                try {
                    batch.deleteBlobs(urls, DeleteSnapshotsOptionType.INCLUDE).forEach(r -> { });
                } catch (BlobBatchStorageException e) {
                    for (BlobStorageException sub : e.getBatchExceptions()) {
                        if (sub.getStatusCode() != 404) {
                            bad++;
                        }
                    }
                }
                return bad;
            });
        }
        return failed;
    }
}
