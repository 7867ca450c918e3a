package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.SelfSignedTls;
import dev.ckptvault.testing.Trainer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.events.EventGridOutgoingPublisher;
import dev.ckptvault.events.OutgoingEvent;
import dev.ckptvault.events.OutgoingEventPublisher;

/**
 * Outgoing events through the real Event Grid client to a local HTTPS endpoint (azure-core sends
 * keys only over HTTPS), checking the exact request a topic would receive.
 */
class OutgoingEventsTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();
    static final String KEY = "test-topic-key";

    @TempDir
    static Path dir;
    static HttpsServer server;
    static final List<Map<String, String>> headers = new CopyOnWriteArrayList<>();
    static final List<String> bodies = new CopyOnWriteArrayList<>();
    static final AtomicInteger failNext = new AtomicInteger();
    static TestApp ctx;
    static OutgoingEvents events;
    static Trainer fixture;
    static SelfSignedTls tls;

    @BeforeAll
    static void setUp() throws Exception {
        tls = SelfSignedTls.create(dir);
        server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls.serverContext()));
        server.createContext("/api/events", exchange -> {
            Map<String, String> h = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            exchange.getRequestHeaders().forEach((k, v) -> h.put(k, v.get(0)));
            h.put(":method", exchange.getRequestMethod());
            h.put(":query", String.valueOf(exchange.getRequestURI().getQuery()));
            byte[] body = exchange.getRequestBody().readAllBytes();
            int status = failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0 ? 503 : 200;
            if (status == 200) {
                headers.add(h);
                bodies.add(new String(body, StandardCharsets.UTF_8));
            }
            exchange.sendResponseHeaders(status, -1);
            exchange.close();
        });
        server.start();

        OutgoingEventPublisher publisher = eventsPublisher();

        ctx = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "100"), Clock.systemUTC());
        events = new OutgoingEvents(publisher, ctx.store, ctx.config.container(),
                ctx.storage.blobService().getAccountUrl());
        fixture = new Trainer(ctx);
    }

    @AfterAll
    static void tearDown() {
        if (server != null) {
            server.stop(0);
        }
    }

    @Test
    void checkpointCommittedArrivesWithTheKeyAndTheExactPayloadThenIsMarked() {
        headers.clear();
        bodies.clear();
        Checkpoint c = fixture.commitSmall("evt-run", 1200, 2, Map.of("val_loss", 1.25));
        assertTrue(events.committed(c));

        assertEquals(1, bodies.size());
        Map<String, String> h = headers.get(0);
        assertEquals("POST", h.get(":method"));
        assertEquals(KEY, h.get("aeg-sas-key"));
        assertTrue(h.get(":query").contains("api-version=2018-01-01"), h.get(":query"));
        assertTrue(h.get("content-type").startsWith("application/json"), h.get("content-type"));

        JsonNode body = Json.parse(bodies.get(0), "body");
        assertTrue(body.isArray());
        assertEquals(1, body.size());
        JsonNode e = body.get(0);
        // The id derives from the commit record it announces.
        String recordId = recordIdOf(CheckpointId.of("evt-run", 1200));
        assertEquals(UUID.nameUUIDFromBytes(("evt-run/1200/CheckpointCommitted/" + recordId)
                .getBytes(StandardCharsets.UTF_8)).toString(), e.get("id").asText());
        assertEquals("runs/evt-run/checkpoints/1200", e.get("subject").asText());
        assertEquals("CheckpointCommitted", e.get("eventType").asText());
        assertEquals("1.0", e.get("dataVersion").asText());
        assertEquals(c.committedAt(), java.time.OffsetDateTime.parse(e.get("eventTime").asText()).toInstant());
        assertEquals(List.of("data", "dataVersion", "eventTime", "eventType", "id", "subject"),
                sortedNames(e));

        JsonNode d = e.get("data");
        String accountUrl = ctx.storage.blobService().getAccountUrl();
        assertEquals("evt-run", d.get("runId").asText());
        assertEquals(1200, d.get("step").asLong());
        assertEquals("checkpoints", d.get("container").asText());
        assertEquals("evt-run/step-000000001200/", d.get("blobPrefix").asText());
        assertEquals(accountUrl, d.get("blobServiceUrl").asText());
        assertEquals(1.25, d.get("metrics").get("val_loss").asDouble());
        assertEquals(c.bytes(), d.get("bytes").asLong());
        assertEquals(2, d.get("files").size());
        JsonNode f0 = d.get("files").get(0);
        assertEquals(List.of("etag", "path", "sha256", "size"), sortedNames(f0));
        assertEquals(c.files().get(0).path(), f0.get("path").asText());
        assertEquals(c.files().get(0).etag(), f0.get("etag").asText());
        assertEquals(c.files().get(0).size(), f0.get("size").asLong());
        assertEquals("ab".repeat(32), f0.get("sha256").asText());
        assertFalse(bodies.get(0).contains("sig="), "no SAS in the event");
        assertFalse(bodies.get(0).contains("leaseId"), "no lease id in the event");

        CheckpointId id = CheckpointId.of("evt-run", 1200);
        assertEquals("true", ctx.store.metadata(id.commitBlob()).orElseThrow().get(OutgoingEvents.COMMITTED_MARK));
        assertEquals("false", ctx.store.metadata(id.commitBlob()).orElseThrow().get("pinned"), "other metadata kept");
        assertEquals(0, events.republishCommitted(List.of(c), ctx.sync), "a marked event is not sent again");
        assertEquals(1, bodies.size());
    }

    @Test
    void aFailedPublishLeavesNoMarkAndTheSweepSendsItLater() {
        headers.clear();
        bodies.clear();
        Checkpoint c = fixture.commitSmall("evt-retry", 7, 1, Map.of());
        failNext.set(10); // more than the client's own retries
        assertFalse(events.committed(c), "a failed publish is reported, not thrown");
        failNext.set(0);
        CheckpointId id = CheckpointId.of("evt-retry", 7);
        assertNull(ctx.store.metadata(id.commitBlob()).orElseThrow().get(OutgoingEvents.COMMITTED_MARK));

        OutgoingEvents restarted = new OutgoingEvents(eventsPublisher(), ctx.store, ctx.config.container(),
                ctx.storage.blobService().getAccountUrl());
        assertEquals(1, restarted.republishCommitted(ctx.sync.allOfRun(id.run()), ctx.sync));
        assertEquals(1, bodies.size());
        assertEquals(OutgoingEvent.idOf("evt-retry", 7, OutgoingEvent.COMMITTED, recordIdOf(id)),
                Json.parse(bodies.get(0), "b").get(0).get("id").asText());
        // The late event names the same files as the one that failed would have.
        JsonNode late = Json.parse(bodies.get(0), "b").get(0).get("data");
        assertEquals(c.files().size(), late.get("files").size());
        assertEquals(c.files().get(0).etag(), late.get("files").get(0).get("etag").asText());
        assertEquals(c.bytes(), late.get("bytes").asLong());
        assertEquals("true", ctx.store.metadata(id.commitBlob()).orElseThrow().get(OutgoingEvents.COMMITTED_MARK));
    }

    @Test
    void checkpointDeletedIsSentWhenRetentionDeletesACommittedCheckpoint() {
        headers.clear();
        bodies.clear();
        fixture.commitSmall("evt-del", 1, 1, Map.of());
        fixture.commitSmall("evt-del", 2, 1, Map.of());
        assertTrue(ctx.afterCommit.drain(java.time.Duration.ofSeconds(60)));
        var enforcer = new dev.ckptvault.lifecycle.RetentionEnforcer(ctx.store, ctx.sync, events, Clock.systemUTC(),
                dev.ckptvault.lifecycle.RetentionEnforcer.NONE);
        CheckpointId id = CheckpointId.of("evt-del", 1);
        enforcer.delete(ctx.sync.refresh(id), "test deletion", false);
        JsonNode e = Json.parse(bodies.get(bodies.size() - 1), "b").get(0);
        assertEquals("CheckpointDeleted", e.get("eventType").asText());
        Tombstone tombstone = Json.read(ctx.store.download(id.tombstoneBlob()).orElseThrow(), Tombstone.class);
        assertEquals(OutgoingEvent.idOf("evt-del", 1, OutgoingEvent.DELETED, tombstone.id()), e.get("id").asText());
        assertEquals("test deletion", e.get("data").get("reason").asText());
        assertTrue(e.get("data").hasNonNull("deletedAt"));
        assertEquals("true", ctx.store.metadata(id.tombstoneBlob()).orElseThrow().get(OutgoingEvents.DELETED_MARK));
    }

    private static String recordIdOf(CheckpointId id) {
        return Json.read(ctx.store.download(id.commitBlob()).orElseThrow(), dev.ckptvault.checkpoint.CommitRecord.class)
                .recordId();
    }

    /** The ids of the events sent so far for one checkpoint and type, in order. */
    private static List<String> idsOf(String subject, String type) {
        List<String> out = new java.util.ArrayList<>();
        for (String b : bodies) {
            for (JsonNode e : Json.parse(b, "b")) {
                if (e.get("subject").asText().equals(subject) && e.get("eventType").asText().equals(type)) {
                    out.add(e.get("id").asText());
                }
            }
        }
        return out;
    }

    /** An app instance whose outgoing events go to this test's topic. */
    private static TestApp withTopic() {
        return AzuriteExtension.app(AZURITE.connectionString(), Map.of("CKPT_RETENTION_KEEP_LAST", "100"),
                Clock.systemUTC(), eventsPublisher());
    }

    @Test
    void aStepCommittedAgainAfterADeleteGetsANewIdAndRedeliveryKeepsIt() {
        failNext.set(0);
        try (TestApp app = withTopic()) {
            Trainer t = new Trainer(app);
            String subject = "runs/evt-again/checkpoints/5";
            CheckpointId id = CheckpointId.of("evt-again", 5);
            t.commitSmall("evt-again", 5, 1, Map.of());
            assertTrue(app.afterCommit.drain(java.time.Duration.ofSeconds(60)));
            app.retention.deleteNow(id, true);
            Checkpoint second = t.commitSmall("evt-again", 5, 1, Map.of());
            assertTrue(app.afterCommit.drain(java.time.Duration.ofSeconds(60)));
            List<String> committed = idsOf(subject, OutgoingEvent.COMMITTED);
            assertEquals(2, committed.size(), committed.toString());
            assertFalse(committed.get(0).equals(committed.get(1)), "the second life reused the first one's id");
            assertEquals(1, idsOf(subject, OutgoingEvent.DELETED).size());

            // Redelivery (the mark lost, a fresh process) sends the second life's id again.
            ctx.store.mergeMetadata(id.commitBlob(), Map.of(OutgoingEvents.COMMITTED_MARK, "false"));
            OutgoingEvents restarted = new OutgoingEvents(eventsPublisher(), ctx.store, ctx.config.container(),
                    ctx.storage.blobService().getAccountUrl());
            assertTrue(restarted.committed(second));
            List<String> again = idsOf(subject, OutgoingEvent.COMMITTED);
            assertEquals(committed.get(1), again.get(again.size() - 1));
        }
    }

    @Test
    void aNewAttemptNeverRemovesATombstoneWhoseCheckpointDeletedIsStillOwed() {
        failNext.set(0);
        try (TestApp app = withTopic()) {
            Trainer t = new Trainer(app);
            String subject = "runs/evt-reopen/checkpoints/1";
            CheckpointId id = CheckpointId.of("evt-reopen", 1);
            t.commitSmall("evt-reopen", 1, 1, Map.of());
            t.commitSmall("evt-reopen", 2, 1, Map.of());
            assertTrue(app.afterCommit.drain(java.time.Duration.ofSeconds(60)));
            failNext.set(1_000); // the topic is down
            app.retention.deleteNow(id, true);
            assertNull(ctx.store.metadata(id.tombstoneBlob()).orElseThrow().get(OutgoingEvents.DELETED_MARK));

            Trainer.Call refused = t.uploads("evt-reopen", 1, List.of("rank-0/shard.bin"));
            assertEquals(503, refused.status(), "reopened while CheckpointDeleted is owed: " + refused.text());
            assertTrue(ctx.storage.container().getBlobClient(id.tombstoneBlob()).exists());

            failNext.set(0); // the topic is back
            Trainer.Call reopened = t.uploads("evt-reopen", 1, List.of("rank-0/shard.bin"));
            assertEquals(200, reopened.status(), reopened.text());
            assertEquals(1, idsOf(subject, OutgoingEvent.DELETED).size(), "the owed CheckpointDeleted went out first");
            assertFalse(ctx.storage.container().getBlobClient(id.tombstoneBlob()).exists());
        } finally {
            failNext.set(0);
        }
    }

    private static OutgoingEventPublisher eventsPublisher() {
        return new EventGridOutgoingPublisher(
                URI.create("https://127.0.0.1:" + server.getAddress().getPort() + "/api/events"), Optional.of(KEY), null,
                tls.sdkHttpClient());
    }

    private static List<String> sortedNames(JsonNode node) {
        List<String> names = new java.util.ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        java.util.Collections.sort(names);
        return names;
    }
}
