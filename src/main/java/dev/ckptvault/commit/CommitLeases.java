package dev.ckptvault.commit;

import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.storage.ContainerStore;
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
    private final ContainerStore store;
    private final ExecutorService pool;

    public CommitLeases(ContainerStore store, ExecutorService pool) {
        this.store = store;
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
                // MISSING: the file vanished after the listing; HELD_BY_OTHER: leased already (a
                // concurrent sync of the same commit). Either way the next derivation compares eTags.
                ContainerStore.Lease lease = store.acquireLease(id.prefix() + path, leaseId);
                if (lease.status() == ContainerStore.LeaseStatus.ACQUIRED) {
                    etags.put(path, lease.etag());
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
                    ? new StorageUnavailableException("storage unavailable while leasing", first)
                    : first;
        }
    }
}
