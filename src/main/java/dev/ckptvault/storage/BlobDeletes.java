package dev.ckptvault.storage;

import com.azure.core.http.rest.Response;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.batch.BlobBatch;
import com.azure.storage.blob.batch.BlobBatchClient;
import com.azure.storage.blob.batch.BlobBatchClientBuilder;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.DeleteSnapshotsOptionType;
import dev.ckptvault.error.StorageUnavailableException;
import java.util.ArrayList;
import java.util.List;

/**
 * Deletes many blobs with the Blob Batch API: one round trip per 256 blobs instead of one per blob.
 * Missing blobs count as deleted; blobs whose lease refused the delete are handed back.
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

    /** One blob to delete; {@code leaseId} when it is leased under an id the caller holds, else null. */
    public record Target(String blobName, String leaseId) {
    }

    /** Deletes blobs that hold no lease (e.g. files about to be rewritten). */
    public List<String> delete(List<String> blobNames) {
        return deleteTargets(blobNames.stream().map(n -> new Target(n, null)).toList());
    }

    /**
     * @return names whose lease refused the delete (409/412): held under another id, or none given
     */
    public List<String> deleteTargets(List<Target> targets) {
        List<String> refused = new ArrayList<>();
        for (int from = 0; from < targets.size(); from += BATCH) {
            List<Target> chunk = targets.subList(from, Math.min(targets.size(), from + BATCH));
            BlobBatch b = batch.getBlobBatch();
            List<Response<Void>> responses = new ArrayList<>(chunk.size());
            for (Target t : chunk) {
                BlobRequestConditions cond = t.leaseId() == null ? null : new BlobRequestConditions().setLeaseId(t.leaseId());
                responses.add(b.deleteBlob(container.getBlobClient(t.blobName()).getBlobUrl(),
                        DeleteSnapshotsOptionType.INCLUDE, cond));
            }
            StorageCalls.run("delete a batch of " + chunk.size() + " blobs",
                    () -> batch.submitBatchWithResponse(b, false, null, null));
            for (int i = 0; i < chunk.size(); i++) {
                int status = status(responses.get(i));
                String name = chunk.get(i).blobName();
                if (status == 404 || status < 300) {
                    continue;
                }
                if (status == 412 || status == 409) {
                    refused.add(name);
                } else if (status >= 500 || status == 429 || status == 408) {
                    throw new StorageUnavailableException("storage refused deleting " + name + " (status " + status + ")",
                            null);
                } else {
                    throw new BatchSubRequestException(name, status);
                }
            }
        }
        return refused;
    }

    /** A failed sub-response throws when read: its status is then the exception's. */
    private static int status(Response<Void> response) {
        try {
            return response.getStatusCode();
        } catch (BlobStorageException e) {
            return e.getStatusCode();
        }
    }
}
