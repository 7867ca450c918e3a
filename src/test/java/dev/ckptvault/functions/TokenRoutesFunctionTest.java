package dev.ckptvault.functions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.access.Scope;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Token routes called as the Functions host would: the token's run, scope and expiry bound the answer. */
class TokenRoutesFunctionTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;
    static Trainer trainer;

    @BeforeAll
    static void setUp() {
        ctx = AZURITE.app(Map.of("CKPT_URL_MAX_MINUTES", "240", "CKPT_URL_DEFAULT_MINUTES", "60"), Clock.systemUTC());
        trainer = new Trainer(ctx);
        trainer.commitSmall("capped", 1, 2, Map.of());
    }

    @AfterAll
    static void tearDown() {
        ctx.close();
    }

    static Map<String, String> bearer(String run, Scope scope, Duration ttl) {
        return Map.of("authorization", "Bearer " + ctx.access.issue(new RunId(run), scope, ttl).token());
    }

    static JsonNode json(LocalHttpResponse r) {
        return Json.parse(r.bodyText(), "response");
    }

    static OffsetDateTime sasExpiry(String url) {
        Map<String, String> q = new HashMap<>();
        for (String part : URI.create(url).getRawQuery().split("&")) {
            int eq = part.indexOf('=');
            q.put(part.substring(0, eq), URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return OffsetDateTime.parse(q.get("se"));
    }

    @Test
    void writeUrlsNeverOutliveTheTokenTheyWereIssuedTo() {
        Map<String, String> auth = bearer("capped", Scope.WRITE, Duration.ofMinutes(7));
        Instant tokenExpiry = Instant.now().plus(Duration.ofMinutes(7));
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(RequestUploadsFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/runs/capped/checkpoints/2/uploads", Map.of(),
                "{\"files\":[{\"path\":\"a.bin\"}],\"expiresInMinutes\":240}", auth), "capped", "2");
        assertEquals(200, r.getStatusCode(), r.bodyText());
        OffsetDateTime answered = OffsetDateTime.parse(json(r).get("expiresOn").asText());
        OffsetDateTime signed = sasExpiry(json(r).get("uploads").get(0).get("url").asText());
        assertEquals(answered.toInstant(), signed.toInstant(), "the answer says when the URL expires");
        assertFalse(signed.toInstant().isAfter(tokenExpiry), signed + " outlives the token (" + tokenExpiry + ")");
        assertTrue(signed.toInstant().isAfter(tokenExpiry.minusSeconds(60)), "capped at the token, not shorter: " + signed);
    }

    @Test
    void readUrlsOfLatestAndOfOneCheckpointNeverOutliveTheToken() {
        Map<String, String> auth = bearer("capped", Scope.READ, Duration.ofMinutes(3));
        Instant tokenExpiry = Instant.now().plus(Duration.ofMinutes(3));
        LocalHttpResponse latest = (LocalHttpResponse) ctx.function(GetLatestCheckpointFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/capped/checkpoints/latest", Map.of(), null, auth), "capped");
        LocalHttpResponse one = (LocalHttpResponse) ctx.function(GetCheckpointFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/capped/checkpoints/1", Map.of("downloads", "true"), null,
                        auth), "capped", "1");
        for (LocalHttpResponse r : new LocalHttpResponse[] {latest, one}) {
            assertEquals(200, r.getStatusCode(), r.bodyText());
            for (JsonNode f : json(r).get("files")) {
                OffsetDateTime se = sasExpiry(f.get("url").asText());
                assertFalse(se.toInstant().isAfter(tokenExpiry), se + " outlives the token");
            }
        }
        Map<String, String> longer = bearer("capped", Scope.READ, Duration.ofDays(2));
        LocalHttpResponse uncapped = (LocalHttpResponse) ctx.function(GetLatestCheckpointFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/capped/checkpoints/latest", Map.of(), null, longer), "capped");
        OffsetDateTime se = sasExpiry(json(uncapped).get("files").get(0).get("url").asText());
        assertTrue(se.toInstant().isBefore(Instant.now().plus(Duration.ofMinutes(61))),
                "a long token does not lengthen a URL beyond the app's read URL lifetime: " + se);
    }

    @Test
    void noTokenIs401WithABearerChallengeAndTheJsonErrorShape() {
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(GetRunFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/capped", Map.of(), null), "capped");
        assertEquals(401, r.getStatusCode());
        assertEquals("Bearer realm=\"ckptvault\"", r.getHeader("WWW-Authenticate"));
        assertEquals("Unauthenticated", json(r).get("error").get("code").asText());
        assertTrue(r.getHeader("Content-Type").startsWith("application/json"));
    }

    @Test
    void withoutATokenNothingIsCreatedForTheRunAskedFor() {
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(RequestUploadsFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/runs/ghost-run/checkpoints/1/uploads", Map.of(), "{\"files\":[{\"path\":\"a\"}]}"),
                "ghost-run", "1");
        assertEquals(401, r.getStatusCode());
        LocalHttpResponse other = (LocalHttpResponse) ctx.function(RequestUploadsFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/runs/ghost-run/checkpoints/1/uploads", Map.of(), "{\"files\":[{\"path\":\"a\"}]}",
                bearer("capped", Scope.WRITE, Duration.ofMinutes(5))), "ghost-run", "1");
        assertEquals(403, other.getStatusCode());
        assertTrue(ctx.store.list("ghost-run/", false).isEmpty(), "the run was not created");
        assertTrue(ctx.index.run(new RunId("ghost-run")).isEmpty(), "nor indexed");
    }

    @Test
    void aReadTokenOnACommitIs403BeforeTheManifestIsRead() {
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(CommitCheckpointFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/runs/capped/checkpoints/9/commit", Map.of(), "{not json",
                bearer("capped", Scope.READ, Duration.ofMinutes(5))), "capped", "9");
        assertEquals(403, r.getStatusCode(), r.bodyText());
        assertEquals("Forbidden", json(r).get("error").get("code").asText());
        assertTrue(ctx.store.list("capped/step-000000000009/", false).isEmpty(), "nothing was written");
    }

    @Test
    void issuingATokenAnswersItUncachedAndRevokingAnswersTheTime() {
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(IssueTokenFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/manage/runs/new-run/tokens", Map.of(), "{\"scope\":\"read\",\"ttlMinutes\":15}"),
                "new-run");
        assertEquals(200, r.getStatusCode(), r.bodyText());
        assertEquals("no-store", r.getHeader("Cache-Control"));
        JsonNode t = json(r);
        assertEquals("new-run", t.get("runId").asText());
        assertEquals("read", t.get("scope").asText());
        assertTrue(t.get("token").asText().startsWith("ckv1."));
        assertTrue(Instant.parse(t.get("expiresOn").asText()).isAfter(Instant.now().plus(Duration.ofMinutes(14))));

        LocalHttpResponse bad = (LocalHttpResponse) ctx.function(IssueTokenFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/manage/runs/new-run/tokens", Map.of(), "{\"scope\":\"read\",\"ttlMinutes\":0}"),
                "new-run");
        assertEquals(400, bad.getStatusCode());
        assertEquals("ttlMinutes", json(bad).get("error").get("target").asText());

        LocalHttpResponse revoked = (LocalHttpResponse) ctx.function(RevokeTokensFunction.class).run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/manage/runs/new-run/tokens", Map.of(), null), "new-run");
        assertEquals(200, revoked.getStatusCode(), revoked.bodyText());
        assertEquals("new-run", json(revoked).get("runId").asText());
        assertTrue(json(revoked).hasNonNull("revokedBefore"));
        LocalHttpResponse refused = (LocalHttpResponse) ctx.function(GetRunFunction.class).run(LocalHttpRequest.of(
                HttpMethod.GET, "/api/runs/new-run", Map.of(), null,
                Map.of("authorization", "Bearer " + t.get("token").asText())), "new-run");
        assertEquals(401, refused.getStatusCode());
        assertTrue(refused.getHeader("WWW-Authenticate").contains("invalid_token"));
    }
}
