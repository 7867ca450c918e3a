package dev.ckptvault.access;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.Objects;
import java.util.Optional;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * One HMAC-SHA256 token-signing key of the key ring. {@code retiredAt} is set when a newer key
 * took over signing; a retired key still verifies until {@code verifyUntil}, when every token it
 * can have signed has expired. Never printed: {@link #toString()} names only the kid.
 */
public record SigningKey(String kid, byte[] secret, Instant createdAt, Optional<Instant> retiredAt,
                         Optional<Instant> verifyUntil) {
    static final int SECRET_BYTES = 32;
    static final String ALGORITHM = "HmacSHA256";
    // Mac objects are not thread-safe and cost a provider lookup to make; one per thread is reused.
    private static final ThreadLocal<Mac> MACS = ThreadLocal.withInitial(() -> {
        try {
            return Mac.getInstance(ALGORITHM);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK has no " + ALGORITHM, e);
        }
    });

    public SigningKey {
        if (kid == null || !RunToken.KID.matcher(kid).matches()) {
            throw new IllegalArgumentException("kid must be 1-64 characters of A-Z a-z 0-9 _ -");
        }
        if (secret == null || secret.length != SECRET_BYTES) {
            throw new IllegalArgumentException("a signing key is " + SECRET_BYTES + " bytes");
        }
        Objects.requireNonNull(createdAt, "createdAt");
        Objects.requireNonNull(retiredAt, "retiredAt");
        Objects.requireNonNull(verifyUntil, "verifyUntil");
        if (retiredAt.isPresent() != verifyUntil.isPresent()) {
            throw new IllegalArgumentException("a retired key has a verifyUntil, a current one none");
        }
        secret = secret.clone();
    }

    /** A new key from the system's strong random source. */
    static SigningKey generate(SecureRandom random, Instant now) {
        byte[] kidBytes = new byte[9];
        random.nextBytes(kidBytes);
        byte[] secret = new byte[SECRET_BYTES];
        random.nextBytes(secret);
        return new SigningKey(Base64.getUrlEncoder().withoutPadding().encodeToString(kidBytes), secret, now,
                Optional.empty(), Optional.empty());
    }

    /** This key, no longer signing from {@code now}, verifying until {@code until}. */
    SigningKey retired(Instant now, Instant until) {
        return new SigningKey(kid, secret, createdAt, Optional.of(now), Optional.of(until));
    }

    /** Whether tokens signed by this key may still be accepted at {@code now}. */
    boolean verifiesAt(Instant now) {
        return verifyUntil.map(now::isBefore).orElse(true);
    }

    byte[] sign(byte[] data) {
        Mac mac = MACS.get();
        try {
            mac.init(new SecretKeySpec(secret, ALGORITHM));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot use a signing key", e);
        }
        return mac.doFinal(data);
    }

    @Override
    public byte[] secret() {
        return secret.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SigningKey k && kid.equals(k.kid) && java.security.MessageDigest.isEqual(secret, k.secret)
                && createdAt.equals(k.createdAt) && retiredAt.equals(k.retiredAt) && verifyUntil.equals(k.verifyUntil);
    }

    @Override
    public int hashCode() {
        return kid.hashCode();
    }

    @Override
    public String toString() {
        return "SigningKey[kid=" + kid + ", createdAt=" + createdAt + retiredAt.map(r -> ", retiredAt=" + r).orElse("")
                + verifyUntil.map(v -> ", verifyUntil=" + v).orElse("") + "]";
    }
}
