package dev.ckptvault.health;

import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageCalls;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** Whether the app can reach what it needs, naming what it cannot. */
public final class HealthService {
    private final ContainerStore store;
    private final Runnable indexProbe;
    private final Supplier<Optional<Instant>> lastEventSeen;

    public HealthService(ContainerStore store, Runnable indexProbe, Supplier<Optional<Instant>> lastEventSeen) {
        this.store = store;
        this.indexProbe = indexProbe;
        this.lastEventSeen = lastEventSeen;
    }

    /** @param details storage, index and lastEventAt, as the health route shows them */
    public record Report(boolean healthy, Map<String, Object> details) {
    }

    public Report check() {
        Map<String, Object> body = new LinkedHashMap<>();
        boolean healthy = true;
        try {
            boolean exists = store.exists();
            body.put("storage", exists ? "ok" : "container missing (run bootstrap)");
            healthy = exists;
        } catch (StorageUnavailableException e) {
            body.put("storage", "unreachable");
            healthy = false;
        } catch (RuntimeException e) {
            body.put("storage", StorageCalls.status(e) == 403 ? "forbidden (check role assignments)" : "error");
            healthy = false;
        }
        try {
            indexProbe.run();
            body.put("index", "ok");
        } catch (RuntimeException e) {
            body.put("index", StorageCalls.isTransient(e) ? "unreachable"
                    : StorageCalls.status(e) == 404 ? "table missing (run bootstrap)" : "error");
            healthy = false;
        }
        body.put("lastEventAt", lastEventSeen.get().map(Instant::toString).orElse(null));
        body.put("status", healthy ? "ok" : "unavailable");
        return new Report(healthy, body);
    }
}
