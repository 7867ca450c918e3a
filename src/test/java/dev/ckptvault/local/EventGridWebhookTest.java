package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Posts Microsoft's documented sample payloads (src/test/resources/eventgrid, also in its test.http). */
class EventGridWebhookTest {
    static final String HOOK = EventGridWebhook.PATH + "?functionName=BlobEvents&code=" + LocalServers.ADMIN_KEY;
    static final TestFunctions.BlobEvents FUNCTION = new TestFunctions.BlobEvents();
    static LocalServers local;

    @BeforeAll
    static void start() throws Exception {
        local = new LocalServers(LocalServers.KEYS, FUNCTION);
    }

    @AfterAll
    static void stop() {
        local.close();
    }

    @BeforeEach
    void reset() {
        FUNCTION.events.clear();
        FUNCTION.failing = false;
    }

    static String sample(String name) throws IOException {
        try (InputStream in = EventGridWebhookTest.class.getResourceAsStream("/eventgrid/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** Two documented single-event arrays joined into one delivery of two events. */
    static String batchOf(String first, String second) throws IOException {
        JsonNode a = Json.parse(sample(first), first);
        JsonNode b = Json.parse(sample(second), second);
        return Json.write(List.of(a.get(0), b.get(0)));
    }

    private static HttpResponse<String> notify(String body, String contentType) throws Exception {
        return local.send("POST", HOOK, body, "Content-Type", contentType, "aeg-event-type", "Notification");
    }

    private List<String> receivedField(String field) {
        return FUNCTION.events.stream().map(e -> Json.parse(e, "event").get(field).asText()).sorted().toList();
    }

    @Test
    void anEventGridSchemaDeliveryInvokesTheFunctionWithTheEventAndAnswers202() throws Exception {
        HttpResponse<String> r = notify(sample("blob-created.eventgrid.json"), "application/json");
        assertEquals(202, r.statusCode(), r.body());
        assertEquals(1, FUNCTION.events.size());
        JsonNode event = Json.parse(FUNCTION.events.get(0), "event");
        assertEquals("Microsoft.Storage.BlobCreated", event.get("eventType").asText());
        assertEquals("\"0x8D4BCC2E4835CD0\"", event.get("data").get("eTag").asText());
        assertEquals("00000000000004420000000000028963", event.get("data").get("sequencer").asText());
    }

    @Test
    void anEventGridBatchInvokesTheFunctionOncePerEvent() throws Exception {
        HttpResponse<String> r = notify(batchOf("blob-created.eventgrid.json", "blob-deleted.eventgrid.json"),
                "application/json");
        assertEquals(202, r.statusCode(), r.body());
        assertEquals(List.of("831e1650-001e-001b-66ab-eeb76e069631", "4c2359fe-001e-00ba-0e04-58586806d298").stream()
                .sorted().toList(), receivedField("id"));
    }

    @Test
    void aSingleCloudEventObjectIsDelivered() throws Exception {
        HttpResponse<String> r = notify(sample("blob-created.cloudevent.json"), "application/cloudevents+json; charset=utf-8");
        assertEquals(202, r.statusCode(), r.body());
        assertEquals(List.of("Microsoft.Storage.BlobCreated"), receivedField("type"));
    }

    @Test
    void aCloudEventsBatchInvokesTheFunctionOncePerEvent() throws Exception {
        HttpResponse<String> r = notify(batchOf("blob-created.cloudevents.json", "blob-deleted.cloudevents.json"),
                "application/cloudevents-batch+json; charset=utf-8");
        assertEquals(202, r.statusCode(), r.body());
        assertEquals(List.of("Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"), receivedField("type"));
    }

    @Test
    void theSubscriptionValidationHandshakeEchoesTheCodeWithoutInvokingTheFunction() throws Exception {
        HttpResponse<String> r = local.send("POST", HOOK, sample("subscription-validation.eventgrid.json"),
                "Content-Type", "application/json", "aeg-event-type", "SubscriptionValidation");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("512d38b6-c7b8-40c8-89fe-f46f9e9622b6", Json.parse(r.body(), "r").get("validationResponse").asText());
        assertTrue(FUNCTION.events.isEmpty());
    }

    @Test
    void aCloudEventValidationWithDoubleEncodedDataIsAnsweredToo() throws Exception {
        String body = "{\"specversion\":\"1.0\",\"type\":\"Microsoft.EventGrid.SubscriptionValidationEvent\","
                + "\"source\":\"/subscriptions/x\",\"id\":\"1\",\"data\":\"{\\\"validationCode\\\":\\\"abc-123\\\"}\"}";
        HttpResponse<String> r = local.send("POST", HOOK, body, "aeg-event-type", "SubscriptionValidation");
        assertEquals("abc-123", Json.parse(r.body(), "r").get("validationResponse").asText());
    }

    @Test
    void theCloudEventsAbuseProtectionHandshakeAllowsTheAzureOrigin() throws Exception {
        HttpResponse<String> r = local.send("OPTIONS", HOOK, null, "WebHook-Request-Origin", "eventgrid.azure.net");
        assertEquals(200, r.statusCode());
        assertEquals("eventgrid.azure.net", r.headers().firstValue("WebHook-Allowed-Origin").orElse(null));
        HttpResponse<String> other = local.send("OPTIONS", HOOK, null, "WebHook-Request-Origin", "evil.example");
        assertEquals("eventgrid.azure.net", other.headers().firstValue("WebHook-Allowed-Origin").orElse(null),
                "like the Functions host, only Azure Event Grid origins are echoed");
    }

    @Test
    void aThrowingFunctionAnswers500SoEventGridRedelivers() throws Exception {
        FUNCTION.failing = true;
        HttpResponse<String> r = notify(sample("blob-created.eventgrid.json"), "application/json");
        assertEquals(500, r.statusCode());
    }

    @Test
    void deliveriesWithoutAKnownEventTypeHeaderOrFunctionAreRefused() throws Exception {
        HttpResponse<String> noHeader = local.send("POST", HOOK, sample("blob-created.eventgrid.json"));
        assertEquals(400, noHeader.statusCode());
        assertTrue(noHeader.body().contains("aeg-event-type"), noHeader.body());
        assertEquals(202, local.send("POST", HOOK, "[]", "aeg-event-type", "Unsubscribe").statusCode());
        HttpResponse<String> unknown = local.send("POST", EventGridWebhook.PATH + "?functionName=Nope&code=" + LocalServers.ADMIN_KEY,
                sample("blob-created.eventgrid.json"), "aeg-event-type", "Notification");
        assertEquals(404, unknown.statusCode());
        assertTrue(unknown.body().contains("BlobEvents"), "the answer lists the functions there are");
        HttpResponse<String> garbage = local.send("POST", HOOK, "not json", "aeg-event-type", "Notification");
        assertEquals(400, garbage.statusCode());
        assertEquals("InvalidJson", Json.parse(garbage.body(), "r").get("error").get("code").asText());
        assertTrue(FUNCTION.events.isEmpty());
    }
}
