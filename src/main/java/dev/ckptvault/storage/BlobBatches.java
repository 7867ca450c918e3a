package dev.ckptvault.storage;

import com.azure.core.http.rest.Response;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.batch.BlobBatch;
import com.azure.storage.blob.batch.BlobBatchAsyncClient;
import com.azure.storage.blob.batch.BlobBatchClientBuilder;
import com.azure.storage.blob.models.AccessTier;
import com.azure.storage.blob.models.BlobRequestConditions;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.models.DeleteSnapshotsOptionType;
import dev.ckptvault.error.StorageUnavailableException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
import reactor.core.publisher.Flux;

/**
 * Many blobs in one round trip per 256 with the Blob Batch API: deletes and tier changes share
 * the chunking and the reading of sub-responses. A missing blob counts as done; a blob whose lease
 * refused the operation is handed back; any other failure throws.
 */
final class BlobBatches {
    /** The Blob Batch API takes at most 256 sub-requests. */
    static final int BATCH = 256;

    /** Batches in flight at once: 1,000 blobs go in one round trip's time, 4,096 in two. */
    static final int PARALLEL = 8;

    private final BlobContainerClient container;
    private final String containerUrl;
    private final BlobBatchAsyncClient batch;

    BlobBatches(BlobContainerClient container) {
        this.container = container;
        this.containerUrl = container.getBlobContainerUrl() + "/";
        this.batch = new BlobBatchClientBuilder(container).buildAsyncClient();
    }

    List<String> delete(List<ContainerStore.Target> targets) {
        return run(targets, "delete", (b, t) -> b.deleteBlob(url(t), DeleteSnapshotsOptionType.INCLUDE,
                t.leaseId() == null ? null : new BlobRequestConditions().setLeaseId(t.leaseId())));
    }

    /** Deletes each blob only if it was not modified after {@code time} (If-Unmodified-Since). */
    List<String> deleteUnmodifiedSince(List<String> blobNames, java.time.OffsetDateTime time) {
        List<ContainerStore.Target> targets = blobNames.stream().map(n -> new ContainerStore.Target(n, null)).toList();
        return run(targets, "delete", (b, t) -> b.deleteBlob(url(t), DeleteSnapshotsOptionType.INCLUDE,
                new BlobRequestConditions().setIfUnmodifiedSince(time)));
    }

    List<String> cool(List<ContainerStore.Target> targets) {
        return run(targets, "move to the Cool tier", (b, t) -> t.leaseId() == null
                ? b.setBlobAccessTier(url(t), AccessTier.COOL)
                : b.setBlobAccessTier(url(t), AccessTier.COOL, t.leaseId()));
    }

    /**
     * A blob's URL as the SDK writes it. Names of plain URL-safe characters (every layout name) are
     * the same encoded as not, so they skip building a client per blob; others go through the SDK.
     */
    private String url(ContainerStore.Target t) {
        String name = t.blobName();
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' || c == '-'
                    || c == '_' || c == '.')) {
                return container.getBlobClient(name).getBlobUrl();
            }
        }
        return containerUrl + name;
    }

    /**
     * Every batch of 256 is submitted at once (up to {@link #PARALLEL} in flight): storage serves
     * them side by side, so the caller waits about one batch's time, not one per 256 blobs.
     */
    private List<String> run(List<ContainerStore.Target> targets, String what,
                             BiFunction<BlobBatch, ContainerStore.Target, Response<?>> op) {
        List<List<ContainerStore.Target>> chunks = new ArrayList<>();
        List<BlobBatch> batches = new ArrayList<>();
        List<List<Response<?>>> answers = new ArrayList<>();
        for (int from = 0; from < targets.size(); from += BATCH) {
            List<ContainerStore.Target> chunk = targets.subList(from, Math.min(targets.size(), from + BATCH));
            BlobBatch b = batch.getBlobBatch();
            List<Response<?>> responses = new ArrayList<>(chunk.size());
            chunk.forEach(t -> responses.add(op.apply(b, t)));
            chunks.add(chunk);
            batches.add(b);
            answers.add(responses);
        }
        if (batches.isEmpty()) {
            return List.of();
        }
        StorageCalls.run(what + " " + targets.size() + " blobs in " + batches.size() + " batches",
                () -> Flux.fromIterable(batches).flatMap(b -> batch.submitBatchWithResponse(b, false), PARALLEL)
                        .blockLast());
        List<String> refused = new ArrayList<>();
        for (int c = 0; c < chunks.size(); c++) {
            List<ContainerStore.Target> chunk = chunks.get(c);
            List<Response<?>> responses = answers.get(c);
            for (int i = 0; i < chunk.size(); i++) {
                int status = status(responses.get(i));
                String name = chunk.get(i).blobName();
                if (status == 404 || status < 300) {
                    continue;
                }
                if (status == 412 || status == 409) {
                    refused.add(name);
                } else if (status >= 500 || status == 429 || status == 408) {
                    throw new StorageUnavailableException("storage refused to " + what + " " + name
                            + " (status " + status + ")", null);
                } else {
                    throw new BatchSubRequestException(name, status);
                }
            }
        }
        return refused;
    }

    /** A failed sub-response throws when read: its status is then the exception's. */
    private static int status(Response<?> response) {
        try {
            return response.getStatusCode();
        } catch (BlobStorageException e) {
            return e.getStatusCode();
        }
    }
}
