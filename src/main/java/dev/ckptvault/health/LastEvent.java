package dev.ckptvault.health;

import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/** When this instance last received a blob event: what /health shows as lastEventAt. */
public final class LastEvent {
    private final AtomicReference<Instant> at = new AtomicReference<>();

    /** Keeps the newest of the times seen, whatever order concurrent handlers report them in. */
    public void seen(Instant when) {
        at.accumulateAndGet(when, (a, b) -> a == null || b.isAfter(a) ? b : a);
    }

    public Optional<Instant> at() {
        return Optional.ofNullable(at.get());
    }
}
