package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.AzureKeyCredential;
import com.azure.core.credential.TokenCredential;
import com.azure.core.exception.HttpResponseException;
import com.azure.core.http.netty.NettyAsyncHttpClientBuilder;
import com.azure.core.util.BinaryData;
import com.azure.messaging.eventgrid.EventGridEvent;
import com.azure.messaging.eventgrid.EventGridPublisherClient;
import com.azure.messaging.eventgrid.EventGridPublisherClientBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import io.netty.handler.ssl.SslContextBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import reactor.core.publisher.Mono;

/**
 * The local custom topic takes what Event Grid takes from the app (the SDK's Event Grid schema
 * publish with a Microsoft Entra token for https://eventgrid.azure.net of its identity) and
 * refuses what Event Grid refuses: keys (local auth off), other audiences, other identities,
 * tokens it did not issue, malformed events.
 */
class EventGridTopicTest {
    @TempDir
    static Path dir;
    static LocalTls tls;
    static TokenIssuer issuer;
    static EventGridTopic topic;
    static com.azure.core.http.HttpClient sdkHttp;

    static final LocalIdentity OTHER = new LocalIdentity("0a1b2c3d-0000-4000-8000-000000000001",
            "0a1b2c3d-0000-4000-8000-000000000002", LocalIdentity.APP.tenantId(), "/subscriptions/x/other");

    @BeforeAll
    static void start() throws Exception {
        tls = LocalTls.create(dir.resolve("tls"), 1);
        issuer = new TokenIssuer(Clock.systemUTC());
        topic = new EventGridTopic(tls.serverContext(), issuer, LocalIdentity.APP, dir.resolve("events.jsonl"));
        sdkHttp = new NettyAsyncHttpClientBuilder(reactor.netty.http.client.HttpClient.create().secure(spec ->
                spec.sslContext(sslContext()))).build();
    }

    private static io.netty.handler.ssl.SslContext sslContext() {
        try {
            return SslContextBuilder.forClient().trustManager(tls.certificate()).build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void stop() {
        topic.close();
    }

    /** Tokens as the identity asks for them: scope {resource}/.default, audience {resource}. */
    static TokenCredential tokensOf(TokenIssuer from, LocalIdentity who) {
        return request -> Mono.fromSupplier(() -> {
            String scope = request.getScopes().get(0);
            TokenIssuer.Issued t = from.issue(who, scope.substring(0, scope.length() - "/.default".length()));
            return new AccessToken(t.token(), t.expiresOn().atOffset(ZoneOffset.UTC));
        });
    }

    static EventGridPublisherClient<EventGridEvent> client(TokenCredential credential) {
        return new EventGridPublisherClientBuilder().endpoint(topic.endpoint().toString()).credential(credential)
                .httpClient(sdkHttp).buildEventGridEventPublisherClient();
    }

    static EventGridEvent event(String subject) {
        EventGridEvent e = new EventGridEvent(subject, "CheckpointCommitted", BinaryData.fromObject(Map.of("step", 1)), "1.0");
        e.setId(UUID.randomUUID().toString());
        e.setEventTime(OffsetDateTime.now(ZoneOffset.UTC));
        return e;
    }

    static int refusal(EventGridPublisherClient<EventGridEvent> client) {
        HttpResponseException e = assertThrows(HttpResponseException.class,
                () -> client.sendEvents(List.of(event("runs/refused/checkpoints/1"))));
        return e.getResponse().getStatusCode();
    }

    @Test
    void theSdkPublishingWithTheSendersEventGridTokenIsAcceptedAndKept() throws Exception {
        String subject = "runs/accepted-" + UUID.randomUUID() + "/checkpoints/7";
        client(tokensOf(issuer, LocalIdentity.APP)).sendEvents(List.of(event(subject)));
        assertTrue(topic.received().stream().anyMatch(e -> e.get("subject").asText().equals(subject)));
        List<String> lines = Files.readAllLines(topic.eventsFile().orElseThrow());
        assertTrue(lines.stream().map(l -> Json.parse(l, "line")).anyMatch(e -> e.get("subject").asText().equals(subject)
                && e.get("eventType").asText().equals("CheckpointCommitted")), lines.toString());
    }

    @Test
    void aTokenForAnotherAudienceIsRefused() {
        TokenCredential storageToken = request -> Mono.fromSupplier(() -> {
            TokenIssuer.Issued t = issuer.issue(LocalIdentity.APP, "https://storage.azure.com");
            return new AccessToken(t.token(), t.expiresOn().atOffset(ZoneOffset.UTC));
        });
        assertEquals(401, refusal(client(storageToken)));
    }

    @Test
    void aTokenOfAnotherIdentityIsRefused() {
        assertEquals(401, refusal(client(tokensOf(issuer, OTHER))));
    }

    @Test
    void aTokenThisEnvironmentDidNotIssueIsRefused() {
        assertEquals(401, refusal(client(tokensOf(new TokenIssuer(Clock.systemUTC()), LocalIdentity.APP))));
    }

    @Test
    void anAccessKeyIsRefusedSinceLocalAuthIsOff() {
        EventGridPublisherClient<EventGridEvent> keyed = new EventGridPublisherClientBuilder()
                .endpoint(topic.endpoint().toString()).credential(new AzureKeyCredential("some-topic-key"))
                .httpClient(sdkHttp).buildEventGridEventPublisherClient();
        assertEquals(401, refusal(keyed));
    }

    static HttpResponse<String> post(String query, String body) throws Exception {
        String token = issuer.issue(LocalIdentity.APP, EventGridTopic.AUDIENCE).token();
        HttpClient http = HttpClient.newBuilder().sslContext(tls.clientContext()).build();
        return http.send(HttpRequest.newBuilder(URI.create(topic.endpoint() + query))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void malformedPublishesGetEventGridsErrorShape() throws Exception {
        String ok = "[{\"id\":\"1\",\"subject\":\"s\",\"eventType\":\"t\",\"eventTime\":\"2026-01-01T00:00:00Z\","
                + "\"data\":{},\"dataVersion\":\"1.0\"}]";
        assertEquals(200, post("?api-version=2018-01-01", ok).statusCode());
        HttpResponse<String> version = post("?api-version=2020-01-01", ok);
        assertEquals(400, version.statusCode());
        JsonNode error = Json.parse(version.body(), "e").get("error");
        assertEquals("400", error.get("code").asText());
        assertTrue(error.get("details").isArray());
        assertEquals(400, post("?api-version=2018-01-01", ok.replace("\"eventType\":\"t\",", "")).statusCode());
        assertEquals(400, post("?api-version=2018-01-01", "{}").statusCode());
        assertEquals(413, post("?api-version=2018-01-01", "[" + "\"x\",".repeat(300_000) + "\"x\"]").statusCode());
    }
}
