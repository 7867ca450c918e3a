package dev.ckptvault.access;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;

/**
 * Per-run revocation markers in the keys container, {@code revocations/{runId}.json} with a
 * not-before time: every token of the run issued at or before it is refused. Each instance caches
 * what it read for at most {@link #CACHE_TTL}, so a revocation made on one instance holds on every
 * instance within that time; on the instance that made it, at once.
 */
public final class Revocations {
    public static final Duration CACHE_TTL = Duration.ofSeconds(30);
    static final int CACHE_MAX = 10_000;
    private static final int WRITE_ATTEMPTS = 8;
    private static final Logger LOG = Logger.getLogger(Revocations.class.getName());

    private record Entry(Optional<Instant> notBefore, Instant readAt) {
    }

    private final ContainerStore keys;
    private final Clock clock;
    private final Map<String, Entry> cache = new ConcurrentHashMap<>();

    public Revocations(ContainerStore keys, Clock clock) {
        this.keys = keys;
        this.clock = clock;
    }

    static String blobName(RunId run) {
        return "revocations/" + run.value() + ".json";
    }

    /** Whether the run's tokens were revoked after this one was issued. */
    public boolean revoked(RunToken token) {
        return notBefore(token.run()).map(nb -> !token.issuedAt().isAfter(nb)).orElse(false);
    }

    /** The run's revocation time, read at most {@link #CACHE_TTL} ago. */
    public Optional<Instant> notBefore(RunId run) {
        Instant now = clock.instant();
        Entry e = cache.get(run.value());
        if (e != null && now.isBefore(e.readAt().plus(CACHE_TTL)) && !now.isBefore(e.readAt())) {
            return e.notBefore();
        }
        Optional<Instant> read = keys.download(blobName(run)).map(data -> parse(run, data));
        remember(run, read, now);
        return read;
    }

    /** Refuses every token of the run issued up to now; a later revocation moves the time forward, never back. */
    public Instant revoke(RunId run) {
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
            Optional<ContainerStore.Content> stored = keys.read(blobName(run));
            Instant notBefore = now;
            boolean written;
            if (stored.isEmpty()) {
                written = keys.createIfAbsent(blobName(run), marker(run, notBefore), Map.of());
            } else {
                Instant previous = parse(run, stored.get().data());
                if (previous.isAfter(notBefore) && !previous.equals(Instant.MAX)) {
                    notBefore = previous;
                }
                written = keys.replaceIfMatch(blobName(run), stored.get().etag(), marker(run, notBefore), Map.of());
            }
            if (written) {
                remember(run, Optional.of(notBefore), clock.instant());
                LOG.info("revoked every token of run " + run + " issued up to " + notBefore);
                return notBefore;
            }
        }
        throw new IllegalStateException("could not write the revocation of run " + run + ": its marker kept changing");
    }

    private void remember(RunId run, Optional<Instant> notBefore, Instant now) {
        if (cache.size() >= CACHE_MAX) {
            // Crude but bounded: a cleared cache only costs re-reads.
            cache.clear();
        }
        cache.put(run.value(), new Entry(notBefore, now));
    }

    private static byte[] marker(RunId run, Instant notBefore) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("runId", run.value());
        m.put("notBefore", notBefore.toString());
        return Json.bytes(m);
    }

    /** An unreadable marker fails closed: every token of the run is refused until an admin revokes again. */
    private static Instant parse(RunId run, byte[] data) {
        try {
            JsonNode n = Json.MAPPER.readTree(data);
            return Instant.parse(n.path("notBefore").asText());
        } catch (IOException | DateTimeParseException e) {
            LOG.warning("revocation marker of run " + run + " cannot be read; refusing all its tokens until"
                    + " it is revoked again");
            return Instant.MAX;
        }
    }
}
