package dev.ckptvault.upload;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.local.SasUrls;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Write URLs over time: long uploads, renewals, limits, against Azurite. The app's clock is a
 * MutableClock; storage keeps real time, so every URL used for a write is one issued while both
 * agreed (a URL issued later would start in storage's future).
 */
class UploadIntegrityTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static ExecutorService pool;
    /** This test's app instance and clock: each test moves its own clock. */
    MutableClock clock;
    TestApp ctx;
    Trainer trainer;

    @BeforeAll
    static void setUp() {
        pool = Executors.newFixedThreadPool(8);
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
    }

    @BeforeEach
    void newApp() {
        clock = new MutableClock(Instant.now());
        ctx = AZURITE.app(Map.of("CKPT_URL_DEFAULT_MINUTES", "60", "CKPT_URL_MAX_MINUTES", "60",
                "CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "60", "CKPT_RETENTION_KEEP_LAST", "1",
                "CKPT_RETENTION_MIN_AGE_MINUTES", "0"), clock);
        trainer = new Trainer(ctx);
    }

    @AfterEach
    void closeApp() {
        ctx.close();
    }

    String url(Trainer.Call uploads, String path) {
        assertEquals(200, uploads.status(), uploads.text());
        for (JsonNode u : uploads.body().get("uploads")) {
            if (u.get("path").asText().equals(path)) {
                return u.get("url").asText();
            }
        }
        throw new AssertionError("no URL for " + path);
    }

    String state(String run, long step) {
        return trainer.get(run, step, false).body().get("state").asText();
    }

    String etagOf(String blob) {
        return dev.ckptvault.checkpoint.ETags.normalize(ctx.storage.container().getBlobClient(blob).getProperties()
                .getETag());
    }

    // ---- finding 5: paths the index cannot key ------------------------------------------------

    @Test
    void aPathLongerThanAnIndexKeyIs400AtUploads() {
        Trainer.Call u = trainer.uploads("long-path", 1, List.of("ok.bin", "deep/" + "p".repeat(508)));
        assertEquals(400, u.status(), u.text());
        assertEquals("InvalidPath", u.body().get("error").get("code").asText());
        assertEquals("files[1].path", u.body().get("error").get("target").asText());
        assertEquals(200, trainer.uploads("long-path", 1, List.of("deep/" + "p".repeat(507))).status(),
                "512 characters fit");
    }

    // ---- finding 6: long uploads and the TTL --------------------------------------------------

    @Test
    void aBlockUploadLongerThanTheTtlWithRenewalsSurvives() throws Exception {
        String run = "long-upload";
        String url = url(trainer.uploads(run, 1, List.of("big.bin")), "big.bin");
        byte[] data = new byte[3 * 1024];
        new Random(6).nextBytes(data);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ids.add(SasUrls.blockId(i));
        }
        assertEquals(201, Http.putBlock(url, ids.get(0), java.util.Arrays.copyOfRange(data, 0, 1024)).statusCode());

        clock.advance(Duration.ofMinutes(45));
        url(trainer.uploads(run, 1, List.of("big.bin")), "big.bin"); // a renewal, as the client makes them
        assertEquals(201, Http.putBlock(url, ids.get(1), java.util.Arrays.copyOfRange(data, 1024, 2048)).statusCode());

        clock.advance(Duration.ofMinutes(30)); // 75 minutes since the start, 30 since the renewal
        ctx.sweeper.sweep();
        assertEquals("UPLOADING", state(run, 1), "a renewed upload is active, not abandoned");
        url(trainer.uploads(run, 1, List.of("big.bin")), "big.bin");
        clock.advance(Duration.ofMinutes(50));
        ctx.sweeper.sweep();
        assertEquals("UPLOADING", state(run, 1));

        assertEquals(201, Http.putBlock(url, ids.get(2), java.util.Arrays.copyOfRange(data, 2048, 3072)).statusCode());
        HttpResponse<String> list = Http.putBlockList(url, ids);
        assertEquals(201, list.statusCode(), list.body());
        String etag = list.headers().firstValue("ETag").orElseThrow();
        Trainer.Call c = trainer.commit(run, 1, Map.of("big.bin", (long) data.length), Map.of("big.bin", etag), Map.of());
        assertEquals(200, c.status(), c.text());
        assertArrayEquals(data, ctx.storage.container().getBlobClient(CheckpointId.of(run, 1).prefix() + "big.bin")
                .downloadContent().toBytes());
    }

    @Test
    void renewalsMarkActivityAtMostOncePerMinutePerStep() throws Exception {
        String run = "renew-cost";
        CheckpointId id = CheckpointId.of(run, 1);
        url(trainer.uploads(run, 1, List.of("a.bin")), "a.bin");
        String start = etagOf(id.attemptBlob());
        clock.advance(Duration.ofMinutes(2));
        List<Future<Trainer.Call>> calls = new ArrayList<>();
        for (int i = 0; i < 16; i++) {
            String path = "rank-" + i + "/a.bin";
            calls.add(pool.submit(() -> trainer.uploads(run, 1, List.of(path))));
        }
        for (Future<Trainer.Call> f : calls) {
            assertEquals(200, f.get().status());
        }
        String marked = etagOf(id.attemptBlob());
        assertNotEquals(start, marked, "the renewals marked the attempt as active");
        for (int i = 0; i < 16; i++) {
            assertEquals(200, trainer.uploads(run, 1, List.of("rank-" + i + "/a.bin")).status());
        }
        assertEquals(marked, etagOf(id.attemptBlob()), "within the minute nothing is written again");
    }

    @Test
    void aTtlShorterThanTheLongestUrlIs400NamingTheField() {
        LocalHttpResponse r = (LocalHttpResponse) ctx.function(PutRunFunction.class).run(LocalHttpRequest.of(
                HttpMethod.PUT, "/api/runs/short-ttl", Map.of(), "{\"retention\":{\"incompleteTtlMinutes\":59}}"),
                "short-ttl");
        assertEquals(400, r.getStatusCode(), r.bodyText());
        JsonNode error = Json.parse(r.bodyText(), "r").get("error");
        assertEquals("InvalidPolicy", error.get("code").asText());
        assertEquals("retention.incompleteTtlMinutes", error.get("target").asText());
        assertTrue(error.get("message").asText().contains("60"), error.get("message").asText());
    }

    // ---- finding 7: what a URL request discards -----------------------------------------------

    @Test
    void aRenewalNeverDiscardsAFileTheCurrentAttemptWrote() throws Exception {
        String run = "renew-done";
        String url = url(trainer.uploads(run, 1, List.of("a.bin")), "a.bin");
        HttpResponse<String> put = Http.putBlob(url, "done".getBytes());
        assertEquals(201, put.statusCode());
        String etag = put.headers().firstValue("ETag").orElseThrow();
        // A renewal for the same path, e.g. from a thread that has not seen the last request return.
        url(trainer.uploads(run, 1, List.of("a.bin")), "a.bin");
        String blob = CheckpointId.of(run, 1).prefix() + "a.bin";
        assertTrue(ctx.storage.container().getBlobClient(blob).exists(), "the finished file was discarded");
        assertEquals(etag, etagOf(blob));
        assertEquals(200, trainer.commit(run, 1, Map.of("a.bin", 4L), Map.of("a.bin", etag), Map.of()).status());
    }

    @Test
    void aRequestStillDiscardsWhatAnEarlierAttemptLeft() throws Exception {
        String run = "leftover";
        CheckpointId id = CheckpointId.of(run, 1);
        url(trainer.uploads(run, 1, List.of("a.bin", "b.bin")), "a.bin");
        for (String p : List.of("a.bin", "b.bin")) {
            ctx.storage.container().getBlobClient(id.prefix() + p).getBlockBlobClient()
                    .upload(BinaryData.fromString("old " + p), true);
        }
        Instant written = ctx.storage.container().getBlobClient(id.prefix() + "b.bin").getProperties()
                .getLastModified().toInstant();
        awaitStorageClockAfter(written);
        clock.advance(Duration.ofMinutes(61)); // attempt 1 is abandoned
        assertEquals(200, trainer.uploads(run, 1, List.of("a.bin")).status()); // starts attempt 2
        assertFalse(ctx.storage.container().getBlobClient(id.prefix() + "a.bin").exists());
        assertTrue(ctx.storage.container().getBlobClient(id.prefix() + "b.bin").exists(), "not asked for yet");
        assertEquals(200, trainer.uploads(run, 1, List.of("b.bin")).status()); // joins attempt 2
        assertFalse(ctx.storage.container().getBlobClient(id.prefix() + "b.bin").exists(),
                "attempt 1's leftover is discarded when attempt 2 asks for its path");
    }

    /** Storage stamps times in whole seconds: waits (polling, with a deadline) until its clock is past {@code t}. */
    void awaitStorageClockAfter(Instant t) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        var probe = ctx.storage.container().getBlobClient("probe/clock");
        while (System.nanoTime() < deadline) {
            Instant now = probe.getBlockBlobClient().upload(BinaryData.fromString("t"), true).getLastModified()
                    .toInstant();
            if (now.isAfter(t)) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("storage's clock did not pass " + t);
    }
}
