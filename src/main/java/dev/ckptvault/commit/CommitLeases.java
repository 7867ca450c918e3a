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
 *
 * <p>A {@code w} SAS may itself take a lease before the commit; such a foreign lease would let its
 * holder write the committed file at will. It is broken and the commit's own lease taken instead;
 * the eTag the acquire answers tells the caller whether the file is still the version it means.
 */
public final class CommitLeases {
    /** Break-and-acquire rounds before a file whose lease keeps being taken counts as unavailable. */
    static final int TAKEOVERS = 3;

    private final ContainerStore store;
    private final ExecutorService pool;

    public CommitLeases(ContainerStore store, ExecutorService pool) {
        this.store = store;
        this.pool = pool;
    }

    /**
     * Leases every given file with {@code leaseId}. Acquiring a lease already held under the same
     * id (a concurrent sync of the same commit) succeeds; a lease under another id is broken and
     * replaced.
     *
     * @return the eTag each file has under the lease (absent for files that are gone)
     */
    public Map<String, String> acquire(CheckpointId id, List<String> paths, String leaseId) {
        Map<String, String> etags = new ConcurrentHashMap<>();
        List<Future<?>> futures = new ArrayList<>(paths.size());
        for (String path : paths) {
            futures.add(pool.submit(() -> {
                String blob = id.prefix() + path;
                ContainerStore.Lease lease = store.acquireLease(blob, leaseId);
                for (int round = 0; lease.status() == ContainerStore.LeaseStatus.HELD_BY_OTHER; round++) {
                    if (round == TAKEOVERS) {
                        // Someone re-takes it as fast as it is broken: retried (503, or Event Grid's redelivery).
                        throw new StorageUnavailableException("the lease of " + blob + " kept being taken by another holder",
                                null);
                    }
                    store.breakLease(blob);
                    lease = store.acquireLease(blob, leaseId);
                }
                // MISSING: the file vanished after the listing; the next derivation sees it.
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
