package dev.ckptvault.testing;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.credential.TokenRequestContext;
import dev.ckptvault.json.Json;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import reactor.core.publisher.Mono;

/**
 * Stands in for a managed identity against Azurite's {@code --oauth basic}: a JWT with the claims
 * Azurite checks (aud https://storage.azure.com, an Entra issuer, iat/nbf/exp around now; oid and
 * tid go into the delegation key). Azurite does not verify the signature, so the token is unsigned
 * in substance; it is accepted nowhere else.
 */
public final class EmulatorTokenCredential implements TokenCredential {
    public static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    public static final String OBJECT_ID = "6f1c3e2a-0b7d-4c59-9d2e-5a8b1f4c7e90";
    private static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();

    @Override
    public Mono<AccessToken> getToken(TokenRequestContext request) {
        if (!request.getScopes().contains("https://storage.azure.com/.default")) {
            return Mono.error(new IllegalArgumentException("unexpected scopes " + request.getScopes()));
        }
        Instant now = Instant.now();
        Instant expires = now.plus(Duration.ofHours(1));
        Map<String, Object> claims = new LinkedHashMap<>();
        claims.put("aud", "https://storage.azure.com");
        claims.put("iss", "https://sts.windows.net/" + TENANT + "/");
        claims.put("iat", now.getEpochSecond() - 60);
        claims.put("nbf", now.getEpochSecond() - 60);
        claims.put("exp", expires.getEpochSecond());
        claims.put("oid", OBJECT_ID);
        claims.put("tid", TENANT);
        String jwt = part(Map.of("alg", "HS256", "typ", "JWT")) + "." + part(claims) + "."
                + B64.encodeToString("not-verified-by-azurite".getBytes(StandardCharsets.US_ASCII));
        return Mono.just(new AccessToken(jwt, OffsetDateTime.ofInstant(expires, ZoneOffset.UTC)));
    }

    private static String part(Map<String, ?> json) {
        return B64.encodeToString(Json.bytes(json));
    }
}
