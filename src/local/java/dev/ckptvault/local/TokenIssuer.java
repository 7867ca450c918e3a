package dev.ckptvault.local;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.Signature;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Signs and checks the access tokens of the local Azure mode: JWTs in the layout of Entra's v1
 * tokens for a managed identity (RS256; aud, iss, iat, nbf, exp, oid, sub, appid, tid, idtyp,
 * xms_mirid). The key pair is made per start and never leaves the process, so only tokens this
 * start issued verify. Azurite reads the claims without checking signatures; the local Event Grid
 * topic checks the signature too, as Event Grid checks Entra's.
 */
public final class TokenIssuer {
    /** Entra's managed identity tokens live about a day; shorter makes token refresh happen locally too. */
    public static final Duration LIFETIME = Duration.ofHours(1);
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
    private static final Base64.Decoder B64D = Base64.getUrlDecoder();

    private final KeyPair keys;
    private final String keyId;
    private final Clock clock;

    public TokenIssuer(Clock clock) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048);
            this.keys = g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("no RSA key pair generator", e);
        }
        this.keyId = UUID.randomUUID().toString();
        this.clock = clock;
    }

    /** A token issued now. */
    public record Issued(String token, Instant expiresOn) {
        @Override
        public String toString() {
            return "Issued[token=<redacted>, expiresOn=" + expiresOn + "]";
        }
    }

    /** A token for {@code identity} with audience {@code resource}, exactly as asked for. */
    public Issued issue(LocalIdentity identity, String resource) {
        Instant now = clock.instant();
        Instant exp = now.plus(LIFETIME);
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("aud", resource);
        claims.put("iss", identity.issuer());
        claims.put("iat", now.getEpochSecond());
        // Five minutes back, as Entra does, so a clock a little behind still accepts it.
        claims.put("nbf", now.minus(Duration.ofMinutes(5)).getEpochSecond());
        claims.put("exp", exp.getEpochSecond());
        claims.put("appid", identity.clientId());
        claims.put("appidacr", "2");
        claims.put("idp", identity.issuer());
        claims.put("idtyp", "app");
        claims.put("oid", identity.principalId());
        claims.put("sub", identity.principalId());
        claims.put("tid", identity.tenantId());
        claims.put("uti", B64.encodeToString(UUID.randomUUID().toString().getBytes(StandardCharsets.US_ASCII)));
        claims.put("ver", "1.0");
        claims.put("xms_mirid", identity.resourceId());
        Map<String, Object> header = new LinkedHashMap<>();
        header.put("typ", "JWT");
        header.put("alg", "RS256");
        header.put("kid", keyId);
        String signingInput = B64.encodeToString(Json.bytes(header)) + "." + B64.encodeToString(Json.bytes(claims));
        try {
            Signature s = Signature.getInstance("SHA256withRSA");
            s.initSign(keys.getPrivate());
            s.update(signingInput.getBytes(StandardCharsets.US_ASCII));
            return new Issued(signingInput + "." + B64.encodeToString(s.sign()), exp);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a token", e);
        }
    }

    /** The claims of a token this issuer signed and whose lifetime includes now; empty otherwise. */
    public Optional<JsonNode> verify(String token) {
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) {
            return Optional.empty();
        }
        try {
            Signature s = Signature.getInstance("SHA256withRSA");
            s.initVerify(keys.getPublic());
            s.update((parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII));
            if (!s.verify(B64D.decode(parts[2]))) {
                return Optional.empty();
            }
            JsonNode header = Json.parse(new String(B64D.decode(parts[0]), StandardCharsets.UTF_8), "header");
            if (!"RS256".equals(header.path("alg").asText()) || !keyId.equals(header.path("kid").asText())) {
                return Optional.empty();
            }
            JsonNode claims = Json.parse(new String(B64D.decode(parts[1]), StandardCharsets.UTF_8), "claims");
            long now = clock.instant().getEpochSecond();
            if (now < claims.path("nbf").asLong(Long.MAX_VALUE) || now >= claims.path("exp").asLong(0)) {
                return Optional.empty();
            }
            return Optional.of(claims);
        } catch (GeneralSecurityException | RuntimeException e) {
            // A malformed token (bad base64, bad JSON, bad signature bytes) is just not ours.
            return Optional.empty();
        }
    }
}
