package dev.ckptvault.access;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import dev.ckptvault.error.UnauthenticatedException;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The token format: {@code ckv1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>}, the MAC taken
 * over everything before the last dot. Claims: {@code v} (1), {@code kid}, {@code run},
 * {@code scope}, {@code iat} and {@code exp} (milliseconds since the epoch), {@code jti}.
 *
 * <p>Decoding is strict and bounded because its input is whatever a caller sends: a length cap
 * before anything else, unpadded canonical base64url only, a JSON object with exactly these
 * fields and types and nothing after it. Anything else is an {@link UnauthenticatedException}.
 */
public final class TokenCodec {
    public static final String PREFIX = "ckv1";
    /** Far above a real token (~300 characters); caps the work a garbage header can cause. */
    public static final int MAX_LENGTH = 1024;
    private static final Pattern B64URL = Pattern.compile("[A-Za-z0-9_-]+");
    private static final Set<String> FIELDS = Set.of("v", "kid", "run", "scope", "iat", "exp", "jti");
    private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
    private static final ObjectReader STRICT = Json.MAPPER.reader()
            .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private TokenCodec() {
    }

    /** A token as the caller sent it, its claims read but its signature not yet checked. */
    public record Unverified(RunToken claims, String signed, String signature) {
        /** Whether {@code key} made the signature; constant time in the signature's content. */
        public boolean signedBy(SigningKey key) {
            byte[] expected = ENCODER.encode(key.sign(signed.getBytes(StandardCharsets.US_ASCII)));
            return MessageDigest.isEqual(expected, signature.getBytes(StandardCharsets.US_ASCII));
        }

        @Override
        public String toString() {
            return "Unverified[id=" + claims.id() + "]";
        }
    }

    public static String encode(RunToken t, SigningKey key) {
        if (!t.kid().equals(key.kid())) {
            throw new IllegalArgumentException("the token names key " + t.kid() + " but is signed with " + key.kid());
        }
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("v", 1);
        claims.put("kid", t.kid());
        claims.put("run", t.run().value());
        claims.put("scope", t.scope().text());
        claims.put("iat", t.issuedAt().toEpochMilli());
        claims.put("exp", t.expiresAt().toEpochMilli());
        claims.put("jti", t.id());
        String signed = PREFIX + "." + ENCODER.encodeToString(Json.bytes(claims));
        return signed + "." + ENCODER.encodeToString(key.sign(signed.getBytes(StandardCharsets.US_ASCII)));
    }

    /** Reads a token's claims; the signature is checked by the caller with the key the claims name. */
    public static Unverified decode(String token) {
        if (token.length() > MAX_LENGTH) {
            throw malformed("is longer than " + MAX_LENGTH + " characters");
        }
        int first = token.indexOf('.');
        int last = token.lastIndexOf('.');
        if (first < 0 || first == last || !token.substring(0, first).equals(PREFIX)) {
            throw malformed("is not a " + PREFIX + " token");
        }
        String payload = token.substring(first + 1, last);
        String signature = token.substring(last + 1);
        if (!B64URL.matcher(payload).matches() || !B64URL.matcher(signature).matches()) {
            throw malformed("is not base64url");
        }
        byte[] json;
        try {
            json = Base64.getUrlDecoder().decode(payload);
        } catch (IllegalArgumentException e) {
            throw malformed("is not base64url");
        }
        // Only the canonical encoding: the signed text then has exactly one spelling.
        if (!ENCODER.encodeToString(json).equals(payload)) {
            throw malformed("is not canonical base64url");
        }
        return new Unverified(claims(json), token.substring(0, last), signature);
    }

    private static RunToken claims(byte[] json) {
        JsonNode n;
        try {
            n = STRICT.readTree(json);
        } catch (IOException e) {
            throw malformed("does not carry JSON claims");
        }
        if (n == null || !n.isObject() || n.size() != FIELDS.size()) {
            throw malformed("does not carry the expected claims");
        }
        for (Iterator<String> names = n.fieldNames(); names.hasNext(); ) {
            if (!FIELDS.contains(names.next())) {
                throw malformed("does not carry the expected claims");
            }
        }
        if (!n.get("v").isInt() || n.get("v").intValue() != 1) {
            throw malformed("is of an unknown version");
        }
        String kid = text(n, "kid");
        String run = text(n, "run");
        Scope scope = Scope.parse(text(n, "scope")).orElseThrow(() -> malformed("names an unknown scope"));
        long iat = millis(n, "iat");
        long exp = millis(n, "exp");
        String jti = text(n, "jti");
        if (!RunId.isValid(run)) {
            throw malformed("names no valid run");
        }
        try {
            return new RunToken(kid, new RunId(run), scope, Instant.ofEpochMilli(iat), Instant.ofEpochMilli(exp), jti);
        } catch (IllegalArgumentException e) {
            throw malformed("carries invalid claims");
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (!v.isTextual()) {
            throw malformed("carries invalid claims");
        }
        return v.textValue();
    }

    private static long millis(JsonNode n, String field) {
        JsonNode v = n.get(field);
        // 0 .. year 9999: Instant.ofEpochMilli never overflows and nothing absurd gets through.
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0 || v.longValue() > 253_402_300_799_000L) {
            throw malformed("carries invalid claims");
        }
        return v.longValue();
    }

    static UnauthenticatedException malformed(String what) {
        return new UnauthenticatedException("the bearer token " + what, true);
    }
}
