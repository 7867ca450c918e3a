package dev.ckptvault.commit;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobStorageException;
import com.azure.storage.blob.specialized.BlobLeaseClientBuilder;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.StorageCalls;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Infinite leases that make a committed checkpoint's files unwritable for URLs issued before the
 * commit: a SAS write without the lease id is refused by storage. Taken in parallel (one round
 * trip per file), so 1,000 files cost about as long as 1,000 / parallelism round trips.
 */
public final class CommitLeases {
    private final BlobContainerClient container;
    private final ExecutorService pool;

    public CommitLeases(BlobContainerClient container, ExecutorService pool) {
        this.container = container;
        this.pool = pool;
    }

    /**
     * Leases every given file with {@code leaseId}.
     *
     * @return the eTag each file has under the lease (absent for files that are gone)
     */
    public Map<String, String> acquire(CheckpointId id, List<String> paths, String leaseId) {
        Map<String, String> etags = new ConcurrentHashMap<>();
        List<Future<?>> futures = new ArrayList<>(paths.size());
        for (String path : paths) {
            futures.add(pool.submit(() -> {
                var blob = container.getBlobClient(id.prefix() + path);
                try {
                    var lease = new BlobLeaseClientBuilder().blobClient(blob).leaseId(leaseId).buildClient();
                    var response = lease.acquireLeaseWithResponse(-1, null, null, null);
                    etags.put(path, dev.ckptvault.storage.ETags.normalize(
                            response.getHeaders().getValue(com.azure.core.http.HttpHeaderName.ETAG)));
                } catch (BlobStorageException e) {
                    // 404: the file vanished after the listing; 409: it is leased already (a concurrent
                    // sync of the same commit). Either way the next derivation compares eTags.
                    if (e.getStatusCode() != 404 && e.getStatusCode() != 409) {
                        throw e;
                    }
                }
            }));
        }
        await(futures);
        return etags;
    }

    private static void await(List<Future<?>> futures) {
        RuntimeException first = null;
        for (Future<?> f : futures) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while leasing", e);
            } catch (ExecutionException e) {
                RuntimeException cause = e.getCause() instanceof RuntimeException r ? r
                        : new IllegalStateException(e.getCause());
                if (first == null) {
                    first = cause;
                }
            }
        }
        if (first != null) {
            throw StorageCalls.isTransient(first)
                    ? new dev.ckptvault.error.StorageUnavailableException("storage unavailable while leasing", first)
                    : first;
        }
    }
}
