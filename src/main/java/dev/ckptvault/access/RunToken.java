package dev.ckptvault.access;

import dev.ckptvault.layout.RunId;
import java.time.Instant;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * The claims of one run token: which key signed it, the run, the scope, when it was issued and
 * when it expires (both to the millisecond, so a token issued right after a revocation is told
 * apart from one issued right before), and a random id that logs may name instead of the token.
 */
public record RunToken(String kid, RunId run, Scope scope, Instant issuedAt, Instant expiresAt, String id) {
    static final Pattern KID = Pattern.compile("[A-Za-z0-9_-]{1,64}");
    static final Pattern ID = Pattern.compile("[A-Za-z0-9_-]{16,64}");

    public RunToken {
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(scope, "scope");
        if (kid == null || !KID.matcher(kid).matches()) {
            throw new IllegalArgumentException("kid must be 1-64 characters of A-Z a-z 0-9 _ -");
        }
        if (id == null || !ID.matcher(id).matches()) {
            throw new IllegalArgumentException("id must be 16-64 characters of A-Z a-z 0-9 _ -");
        }
        if (issuedAt == null || expiresAt == null || !expiresAt.isAfter(issuedAt)) {
            throw new IllegalArgumentException("a token must expire after it was issued");
        }
        if (issuedAt.getNano() % 1_000_000 != 0 || expiresAt.getNano() % 1_000_000 != 0) {
            throw new IllegalArgumentException("token times are whole milliseconds");
        }
    }
}
