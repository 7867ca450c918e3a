package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Locally there are no blob versions (Azurite 3.35), so the promise for a committed checkpoint
 * changed through an old write URL is detection: through the local host, as a trainer and an
 * attacker would do it with a plain HTTP client, the change turns the checkpoint TAMPERED and
 * takes it out of latest within 10 seconds (the host's blob event watcher reports it).
 */
class LocalTamperTest {
    static final Duration DETECTION = Duration.ofSeconds(10);
    static final String ADMIN_KEY = "admin-key-tamper-test";
    /** The trainer's write token, issued by the test as a job launcher. */
    static String token;

    @Test
    void aCommittedFileBrokenAndOverwrittenThroughAnOldWriteUrlIsTamperedWithinTenSeconds() throws Exception {
        LocalStack.Options options = new LocalStack.Options(0, null, null, Optional.empty(), Optional.of(ADMIN_KEY),
                AzuriteExtension.projectDir(), Duration.ofMillis(200));
        try (LocalStack stack = LocalStack.start(options, Map.of())) {
            String base = "http://127.0.0.1:" + stack.port();
            token = Http.issueToken(base, ADMIN_KEY, "tamper-local", "write");
            String api = base + "/api/runs/tamper-local/checkpoints/";
            for (long step = 1; step <= 2; step++) {
                JsonNode uploads = post(api + step + "/uploads", "{\"files\":[{\"path\":\"w.bin\"}]}", 200);
                String url = uploads.get("uploads").get(0).get("url").asText();
                HttpResponse<String> put = Http.putBlob(url, ("good-" + step).getBytes(StandardCharsets.UTF_8));
                assertEquals(201, put.statusCode(), put.body());
                String etag = put.headers().firstValue("ETag").orElseThrow();
                post(api + step + "/commit", "{\"step\":" + step + ",\"files\":[{\"path\":\"w.bin\",\"size\":6,\"etag\":"
                        + Json.write(etag) + "}]}", 200);
                if (step == 2) {
                    assertEquals(2, get(api + "latest").get("step").asLong());
                    // Later, not in the moment of the commit: the watcher has seen the checkpoint settle.
                    stack.watcher().pollOnce();
                    stack.watcher().pollOnce();
                    // The write URL is still alive: break the commit lease, then overwrite.
                    assertEquals(202, Http.lease(url, "break", null).statusCode());
                    assertEquals(201, Http.putBlob(url, "evil!!".getBytes(StandardCharsets.UTF_8)).statusCode());
                }
            }
            long started = System.nanoTime();
            long deadline = started + DETECTION.toNanos();
            String state = null;
            while (System.nanoTime() < deadline) {
                state = get(api + "2").get("state").asText();
                if (state.equals("TAMPERED")) {
                    break;
                }
                Thread.sleep(100);
            }
            assertEquals("TAMPERED", state, "not detected within " + DETECTION);
            System.out.println("local tamper detection took " + (System.nanoTime() - started) / 1_000_000 + " ms");
            assertEquals(1, get(api + "latest").get("step").asLong(), "a TAMPERED checkpoint is never latest");
        }
    }

    @Test
    void theWatcherListsOpenCheckpointsAndThoseCommittedWithinTheLongestUrlLifetime() throws Exception {
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            MutableClock clock = new MutableClock(Instant.now().minus(Duration.ofHours(5)));
            try (TestApp app = AzuriteExtension.app(azurite.connectionString(), Map.of(), clock,
                    dev.ckptvault.events.OutgoingEventPublisher.DISABLED)) {
                Trainer t = new Trainer(app);
                t.commitSmall("watch", 1, 1, Map.of()); // committed five hours ago
                clock.advance(Duration.ofHours(5));
                t.commitSmall("watch", 2, 1, Map.of()); // committed now
                t.writeSmall("watch", 3, 1); // open
                assertEquals(Set.of(CheckpointId.of("watch", 2), CheckpointId.of("watch", 3)),
                        Set.copyOf(LocalStack.watchList(app.index, app.config.maxUrlLifetime())));
            }
        }
    }

    private static JsonNode post(String url, String body, int expect) throws Exception {
        HttpResponse<String> r = Http.send(HttpRequest.newBuilder(URI.create(url))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + token)
                .POST(HttpRequest.BodyPublishers.ofString(body)).build());
        assertEquals(expect, r.statusCode(), r.body());
        return Json.parse(r.body(), "answer");
    }

    private static JsonNode get(String url) throws Exception {
        HttpResponse<String> r = Http.get(url, token);
        assertEquals(200, r.statusCode(), r.body());
        return Json.parse(r.body(), "answer");
    }
}
