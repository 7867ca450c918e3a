package dev.ckptvault.access;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.UnauthenticatedException;
import dev.ckptvault.layout.RunId;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;

/**
 * Run-scoped access (DESIGN.md, Access): issues, verifies and revokes run tokens and rotates the
 * key that signs them. Every token route calls {@link #authorize} first, before any storage call
 * of its own; the only storage it may cause is reading the key ring and the run's revocation
 * marker, both cached.
 */
public final class RunAccess {
    private static final Logger LOG = Logger.getLogger(RunAccess.class.getName());
    private static final Set<String> ISSUE_FIELDS = Set.of("scope", "ttlMinutes");
    /** A token issued by an instance whose clock runs this much ahead is still accepted. */
    private static final Duration ISSUED_AHEAD = Duration.ofMinutes(5);

    private final SigningKeyStore keys;
    private final Revocations revocations;
    private final Clock clock;
    private final Duration maxLifetime;
    private final SecureRandom random = new SecureRandom();

    public RunAccess(SigningKeyStore keys, Revocations revocations, Clock clock, Duration maxLifetime) {
        this.keys = keys;
        this.revocations = revocations;
        this.clock = clock;
        this.maxLifetime = maxLifetime;
    }

    /** The body of POST .../tokens: {@code {"scope":"write"|"read","ttlMinutes":N}}; N defaults to the maximum. */
    public IssuedToken issue(RunId run, JsonNode body) {
        if (!body.isObject()) {
            throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "body must be a JSON object", "body");
        }
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!ISSUE_FIELDS.contains(name)) {
                throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, name + " is not a field of a token request;"
                        + " fields are scope and ttlMinutes", name);
            }
        }
        JsonNode s = body.get("scope");
        Scope scope = (s != null && s.isTextual() ? Scope.parse(s.textValue()) : Optional.<Scope>empty())
                .orElseThrow(() -> new InvalidInputException(ErrorCodes.INVALID_REQUEST,
                        "scope must be \"write\" or \"read\"", "scope"));
        long maxMinutes = maxLifetime.toMinutes();
        JsonNode t = body.get("ttlMinutes");
        long minutes = maxMinutes;
        if (t != null) {
            if (!t.isIntegralNumber() || !t.canConvertToLong() || t.longValue() < 1 || t.longValue() > maxMinutes) {
                throw new InvalidInputException(ErrorCodes.INVALID_REQUEST,
                        "ttlMinutes must be a whole number from 1 to " + maxMinutes + " (CKPT_TOKEN_MAX_MINUTES)",
                        "ttlMinutes");
            }
            minutes = t.longValue();
        }
        return issue(run, scope, Duration.ofMinutes(minutes));
    }

    /** A token for {@code run} with {@code scope}, valid for {@code lifetime} (at most the configured maximum). */
    public IssuedToken issue(RunId run, Scope scope, Duration lifetime) {
        if (lifetime.isNegative() || lifetime.isZero() || lifetime.compareTo(maxLifetime) > 0) {
            throw new IllegalArgumentException("a token lives more than 0 and at most " + maxLifetime);
        }
        SigningKey key = keys.signingKey();
        Instant now = clock.instant().truncatedTo(ChronoUnit.MILLIS);
        byte[] id = new byte[16];
        random.nextBytes(id);
        RunToken token = new RunToken(key.kid(), run, scope, now, now.plus(lifetime),
                Base64.getUrlEncoder().withoutPadding().encodeToString(id));
        LOG.info("issued " + scope + " token " + token.id() + " for run " + run + " until " + token.expiresAt()
                + " (key " + key.kid() + ")");
        return new IssuedToken(TokenCodec.encode(token, key), run.value(), scope.text(), token.expiresAt());
    }

    /** The answer of DELETE .../tokens. */
    public record Revoked(String runId, Instant revokedBefore) {
    }

    /** Every token of {@code run} issued so far is refused: here at once, on every instance within a minute. */
    public Revoked revoke(RunId run) {
        return new Revoked(run.value(), revocations.revoke(run));
    }

    /** The answer of POST /api/manage/signing-keys/rotate: key ids and times, never a secret. */
    public record Rotation(String current, List<Retired> verifying) {
        public record Retired(String kid, Instant verifyUntil) {
        }
    }

    public Rotation rotate() {
        KeyRing ring = keys.rotate();
        return new Rotation(ring.current(), ring.keys().stream().filter(k -> k.verifyUntil().isPresent())
                .map(k -> new Rotation.Retired(k.kid(), k.verifyUntil().get())).toList());
    }

    /**
     * Lets the request through for {@code routeRunId} with {@code needed} scope, or throws: 401
     * without a valid token (none, malformed, badly signed, expired, revoked), 403 with a valid
     * token of another run or too small a scope, 400 for a run id that cannot be one. Nothing is
     * looked up for the run asked for, so no answer depends on whether it exists.
     */
    public Grant authorize(Map<String, String> headers, String routeRunId, Scope needed) {
        RunToken token = verify(bearer(headers));
        // Only the text's shape, so a typo gets its 400 naming runId; nothing is looked up.
        RunId target = new RunId(routeRunId);
        if (!token.run().equals(target)) {
            LOG.info("refused token " + token.id() + ": it is for another run");
            throw new ForbiddenException(ErrorCodes.FORBIDDEN, "this token is not valid for this run", "runId");
        }
        if (!token.scope().covers(needed)) {
            LOG.info("refused token " + token.id() + ": scope " + token.scope() + ", " + needed + " needed");
            throw new ForbiddenException(ErrorCodes.FORBIDDEN, "a " + token.scope() + " token cannot do this; it needs a "
                    + needed + " token of the run", "Authorization");
        }
        if (revocations.revoked(token)) {
            LOG.info("refused token " + token.id() + ": the run's tokens were revoked after it was issued");
            throw new UnauthenticatedException("the bearer token was revoked", true);
        }
        return new Grant(token.run(), token.scope(), token.expiresAt(), token.id());
    }

    /** A token's signature and lifetime checked: the claims of a token this app issued and that is still valid. */
    public RunToken verify(String token) {
        TokenCodec.Unverified u = TokenCodec.decode(token);
        RunToken claims = u.claims();
        SigningKey key = keys.verificationKey(claims.kid()).orElseThrow(() -> {
            LOG.fine("refused a token naming unknown key " + claims.kid());
            return new UnauthenticatedException("the bearer token is signed with an unknown or retired key", true);
        });
        if (!u.signedBy(key)) {
            LOG.fine("refused a token with a wrong signature");
            throw new UnauthenticatedException("the bearer token's signature is not valid", true);
        }
        Instant now = clock.instant();
        if (!now.isBefore(claims.expiresAt())) {
            LOG.info("refused token " + claims.id() + ": expired at " + claims.expiresAt());
            throw new UnauthenticatedException("the bearer token expired at " + claims.expiresAt(), true);
        }
        if (claims.issuedAt().isAfter(now.plus(ISSUED_AHEAD))
                || Duration.between(claims.issuedAt(), claims.expiresAt()).compareTo(maxLifetime) > 0) {
            // Only a signer with another configuration or a broken clock makes these; refuse rather than trust.
            LOG.warning("refused token " + claims.id() + ": issued " + claims.issuedAt() + ", expires "
                    + claims.expiresAt() + ", beyond CKPT_TOKEN_MAX_MINUTES or this instance's clock");
            throw new UnauthenticatedException("the bearer token's lifetime is not acceptable", true);
        }
        return claims;
    }

    private static String bearer(Map<String, String> headers) {
        String value = null;
        boolean key = false;
        for (Map.Entry<String, String> h : headers.entrySet()) {
            String name = h.getKey().toLowerCase(Locale.ROOT);
            if (name.equals("authorization")) {
                value = h.getValue();
            } else if (name.equals("x-functions-key")) {
                key = true;
            }
        }
        if (value == null || value.isBlank()) {
            throw new UnauthenticatedException(key
                    ? "this route takes a run token, not a key: send Authorization: Bearer <token>"
                            + " (an admin issues one with POST /api/manage/runs/{runId}/tokens)"
                    : "a run token is required: send Authorization: Bearer <token>", false);
        }
        String v = value.strip();
        int space = v.indexOf(' ');
        if (space < 0 || !v.substring(0, space).equalsIgnoreCase("Bearer")) {
            throw new UnauthenticatedException("the Authorization header must be 'Bearer <token>'", true);
        }
        return v.substring(space + 1).strip();
    }
}
