package dev.ckptvault.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.error.UnauthenticatedException;
import dev.ckptvault.layout.RunId;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The token format on its own: what it signs, and that any other input is a 401, never another failure. */
class TokenCodecTest {
    static final SigningKey KEY = SigningKey.generate(new SecureRandom(), Instant.parse("2026-01-01T00:00:00Z"));
    static final Instant NOW = Instant.parse("2026-06-01T12:00:00.123Z");

    static RunToken token(String run, Scope scope) {
        return new RunToken(KEY.kid(), new RunId(run), scope, NOW, NOW.plus(Duration.ofHours(1)), "0123456789abcdefABCDEF");
    }

    static String b64(String s) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    /** A token with these claims, correctly signed by KEY: only the claims are wrong. */
    static String signed(String claimsJson) {
        String signedPart = TokenCodec.PREFIX + "." + b64(claimsJson);
        return signedPart + "." + Base64.getUrlEncoder().withoutPadding()
                .encodeToString(KEY.sign(signedPart.getBytes(StandardCharsets.US_ASCII)));
    }

    @Test
    void aTokenCarriesItsClaimsAndVerifiesOnlyWithItsKey() {
        String text = TokenCodec.encode(token("llama-7b", Scope.WRITE), KEY);
        assertTrue(text.startsWith("ckv1."), text);
        assertTrue(text.matches("ckv1\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]{43}"), "only URL-safe characters: " + text);
        TokenCodec.Unverified u = TokenCodec.decode(text);
        assertEquals(token("llama-7b", Scope.WRITE), u.claims());
        assertTrue(u.signedBy(KEY));
        SigningKey other = SigningKey.generate(new SecureRandom(), NOW);
        assertFalse(u.signedBy(new SigningKey(KEY.kid(), other.secret(), NOW, java.util.Optional.empty(),
                java.util.Optional.empty())), "same kid, other secret");
        assertFalse(text.contains(Base64.getUrlEncoder().withoutPadding().encodeToString(KEY.secret())),
                "the token carries no secret");
    }

    @Test
    void changingAnyClaimBreaksTheSignature() {
        String text = TokenCodec.encode(token("victim", Scope.READ), KEY);
        String[] parts = text.split("\\.");
        String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        for (String forged : new String[] {claims.replace("\"read\"", "\"write\""), claims.replace("victim", "victin"),
                claims.replace("\"exp\":", "\"exp\":9")}) {
            assertFalse(forged.equals(claims));
            TokenCodec.Unverified u = TokenCodec.decode(parts[0] + "." + b64(forged) + "." + parts[2]);
            assertFalse(u.signedBy(KEY), forged);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "", "garbage", "ckv1", "ckv1.", "ckv1..", "ckv2.e30.AAAA", "CKV1.e30.AAAA", "ckv1.e30", "ckv1.e30.",
            "ckv1.e30=.AAAA", "ckv1.e3+0.AAAA", "ckv1.e3/0.AAAA", "ckv1.e 30.AAAA", "ckv1.e30.AA AA",
            "ckv1.\u00e9.AAAA", "ckv1.e30.AAAA.AAAA", "ckv1.%65%33%30.AAAA", "Bearer ckv1.e30.AAAA",
            "ckv1.eyJ2IjoxfQ.AAAA", // {"v":1}
            "ckv1.W10.AAAA", // []
            "ckv1.bnVsbA.AAAA", // null
            "ckv1.e30x.AAAA", // not decodable as base64url of whole bytes
            "ckv1.e31.AAAA" // non-canonical last character
    })
    void malformedTokensAreUnauthenticated(String text) {
        UnauthenticatedException e = assertThrows(UnauthenticatedException.class, () -> TokenCodec.decode(text));
        assertTrue(e.getMessage().startsWith("the bearer token "), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\",\"x\":1}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"} {}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"run\":\"s\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":2,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":\"1\",\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"-r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"admin\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"WRITE\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2.5,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":1e30,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":-5,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":3,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":99999999999999999999,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"short\"}",
            "{\"v\":1,\"kid\":\"k k\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":null,\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
            "{\"v\":1,\"kid\":\"k\",\"run\":[\"r\"],\"scope\":\"write\",\"iat\":1,\"exp\":2,\"jti\":\"0123456789abcdef\"}",
    })
    void signedTokensWithInvalidClaimsAreUnauthenticated(String claims) {
        assertThrows(UnauthenticatedException.class, () -> TokenCodec.decode(signed(claims)));
    }

    @Test
    void aValidClaimSetSignedTheSameWayIsAccepted() {
        String claims = "{\"v\":1,\"kid\":\"" + KEY.kid() + "\",\"run\":\"r\",\"scope\":\"write\",\"iat\":1,\"exp\":2,"
                + "\"jti\":\"0123456789abcdef\"}";
        assertTrue(TokenCodec.decode(signed(claims)).signedBy(KEY), "the helper above signs like the codec");
    }

    @Test
    void anOverlongTokenIsRefusedBeforeItIsRead() {
        String huge = "ckv1." + "A".repeat(TokenCodec.MAX_LENGTH) + ".AAAA";
        assertThrows(UnauthenticatedException.class, () -> TokenCodec.decode(huge));
    }

    /** Seeded mutations of a real token (flips, cuts, insertions): a 401 or a token whose signature fails, nothing else. */
    @Test
    void mutatedTokensNeverFailOtherwiseThanUnauthenticated() {
        String good = TokenCodec.encode(token("run-1", Scope.WRITE), KEY);
        Random random = new Random(12);
        String alphabet = "ABCxyz019_-.=+/ {}\":,\\\u0000\u00ff";
        for (int i = 0; i < 20_000; i++) {
            StringBuilder b = new StringBuilder(good);
            int edits = 1 + random.nextInt(4);
            for (int e = 0; e < edits && b.length() > 0; e++) {
                int at = random.nextInt(b.length());
                switch (random.nextInt(3)) {
                    case 0 -> b.setCharAt(at, alphabet.charAt(random.nextInt(alphabet.length())));
                    case 1 -> b.deleteCharAt(at);
                    default -> b.insert(at, alphabet.charAt(random.nextInt(alphabet.length())));
                }
            }
            String mutated = b.toString();
            try {
                TokenCodec.Unverified u = TokenCodec.decode(mutated);
                assertTrue(mutated.equals(good) || !u.signedBy(KEY), "a mutation still verifies: " + mutated);
            } catch (UnauthenticatedException expected) {
                // the normal outcome
            }
        }
    }
}
