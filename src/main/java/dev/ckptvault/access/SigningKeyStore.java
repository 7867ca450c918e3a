package dev.ckptvault.access;

import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageCalls;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import java.util.logging.Logger;

/**
 * The key ring in the app's private keys container ({@value #BLOB}), cached in memory. The first
 * instance that needs a key creates the ring (create-once; an instance that loses that race reads
 * the winner's). Rotation replaces the blob only if it is still the version read (eTag), so two
 * rotations never lose a key. Every instance re-reads the ring at least every {@link #REFRESH}
 * (so a rotation reaches every signer within it) and at once when a token names a kid it does not
 * know (at most once per {@link #UNKNOWN_KID_GAP}, so garbage kids cannot make it read per request).
 */
public final class SigningKeyStore {
    public static final String BLOB = "signing-keys.json";
    public static final Duration REFRESH = Duration.ofMinutes(5);
    static final Duration UNKNOWN_KID_GAP = Duration.ofSeconds(5);
    /** Instants of app instances disagree by a little; a retired key verifies this much longer. */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(5);
    private static final int ROTATE_ATTEMPTS = 8;
    private static final Logger LOG = Logger.getLogger(SigningKeyStore.class.getName());

    private record Loaded(KeyRing ring, String etag, Instant at) {
    }

    private final ContainerStore keys;
    private final Clock clock;
    private final Duration retireAfter;
    private final SecureRandom random = new SecureRandom();
    private volatile Loaded loaded;

    /**
     * @param tokenMaxLifetime the longest token any key can sign; a retired key verifies that much
     *                         longer, plus one refresh period (instances that still sign with it)
     *                         and clock skew
     */
    public SigningKeyStore(ContainerStore keys, Clock clock, Duration tokenMaxLifetime) {
        this.keys = keys;
        this.clock = clock;
        this.retireAfter = tokenMaxLifetime.plus(REFRESH).plus(CLOCK_SKEW);
    }

    /** The key new tokens are signed with. */
    public SigningKey signingKey() {
        return fresh().ring().currentKey();
    }

    /** The key that verifies tokens naming {@code kid}, if any still does. */
    public Optional<SigningKey> verificationKey(String kid) {
        Instant now = clock.instant();
        Loaded l = fresh();
        Optional<SigningKey> key = l.ring().verifying(kid, now);
        if (key.isEmpty() && l.ring().keys().stream().noneMatch(k -> k.kid().equals(kid))
                && !now.isBefore(l.at().plus(UNKNOWN_KID_GAP))) {
            // Another instance may have rotated since this one read the ring.
            key = load().ring().verifying(kid, now);
        }
        return key;
    }

    /** Makes a new key the signing key; the replaced one verifies until its tokens have expired. */
    public KeyRing rotate() {
        for (int attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
            Loaded current = load();
            Instant now = clock.instant();
            KeyRing next = current.ring().rotated(SigningKey.generate(random, now), now, retireAfter);
            if (keys.replaceIfMatch(BLOB, current.etag(), next.toJson(), Map.of())) {
                LOG.info("signing key " + next.current() + " signs from now; " + current.ring().current()
                        + " verifies until " + now.plus(retireAfter));
                return load().ring();
            }
        }
        throw new IllegalStateException("could not rotate the signing key: " + BLOB + " kept changing");
    }

    private Loaded fresh() {
        Loaded l = loaded;
        if (l == null || !clock.instant().isBefore(l.at().plus(REFRESH))) {
            synchronized (this) {
                l = loaded;
                if (l == null || !clock.instant().isBefore(l.at().plus(REFRESH))) {
                    l = load();
                }
            }
        }
        return l;
    }

    private synchronized Loaded load() {
        Optional<ContainerStore.Content> stored = keys.read(BLOB);
        if (stored.isEmpty()) {
            KeyRing ring = KeyRing.first(SigningKey.generate(random, clock.instant()));
            if (missingContainer(() -> keys.createIfAbsent(BLOB, ring.toJson(), Map.of()))) {
                LOG.info("created the token-signing key ring " + BLOB + " with key " + ring.current());
            }
            stored = keys.read(BLOB);
            if (stored.isEmpty()) {
                throw new IllegalStateException(BLOB + " vanished right after it was written");
            }
        }
        Loaded l = new Loaded(KeyRing.fromJson(stored.get().data()), stored.get().etag(), clock.instant());
        loaded = l;
        return l;
    }

    private static boolean missingContainer(Supplier<Boolean> create) {
        try {
            return create.get();
        } catch (RuntimeException e) {
            if (StorageCalls.status(e) == 404) {
                throw new IllegalStateException("the keys container (CKPT_KEYS_CONTAINER) does not exist: "
                        + "run bootstrap (POST /api/manage/bootstrap or the bootstrap CLI)", e);
            }
            throw e;
        }
    }
}
