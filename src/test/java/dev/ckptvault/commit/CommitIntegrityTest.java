package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What a write-URL holder (a zombie rank, an old attempt, a careless script) can and cannot do to
 * a checkpoint, and inputs that must be refused before anything is stored: through the issued
 * URLs with a plain HTTP client, against Azurite.
 */
class CommitIntegrityTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;
    static Trainer trainer;

    @BeforeAll
    static void setUp() {
        ctx = AZURITE.app();
        trainer = new Trainer(ctx);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String url(Trainer.Call uploads, String path) {
        for (JsonNode u : uploads.body().get("uploads")) {
            if (u.get("path").asText().equals(path)) {
                return u.get("url").asText();
            }
        }
        throw new AssertionError("no URL for " + path + " in " + uploads.text());
    }

    static String put(String url, String content) throws Exception {
        HttpResponse<String> r = Http.putBlob(url, bytes(content));
        assertEquals(201, r.statusCode(), r.body());
        return r.headers().firstValue("ETag").orElseThrow();
    }

    static byte[] stored(String blob) {
        return ctx.storage.container().getBlobClient(blob).downloadContent().toBytes();
    }

    // ---- a write URL and leases (finding 1) ---------------------------------------------------

    @Test
    void aLeaseTakenThroughAWriteUrlBeforeTheCommitIsBrokenAndReplacedByTheCommits() throws Exception {
        Trainer.Call u = trainer.uploads("lease-first", 1, List.of("w.bin"));
        String url = url(u, "w.bin");
        String etag = put(url, "good");
        String foreign = UUID.randomUUID().toString();
        assertEquals(201, Http.lease(url, "acquire", foreign).statusCode(), "a w SAS may take a lease");

        Trainer.Call c = trainer.commit("lease-first", 1, Map.of("w.bin", 4L), Map.of("w.bin", etag), Map.of());
        assertEquals(200, c.status(), c.text());
        assertEquals("COMMITTED", c.body().get("state").asText());

        // The lease taken before the commit is gone: its holder cannot write the committed file.
        int overwrite = Http.putBlobLeased(url, bytes("evil"), foreign).statusCode();
        assertTrue(overwrite == 412 || overwrite == 409, "the foreign lease still writes: " + overwrite);
        assertArrayEquals(bytes("good"), stored("lease-first/step-000000000001/w.bin"));
        assertEquals("COMMITTED", trainer.get("lease-first", 1, false).body().get("state").asText());
    }

    @Test
    void aCommittedFileBrokenAndOverwrittenThroughAnOldWriteUrlIsTamperedAndLeavesLatest() throws Exception {
        String e1 = put(url(trainer.uploads("break", 1, List.of("t.bin")), "t.bin"), "v1");
        assertEquals(200, trainer.commit("break", 1, Map.of("t.bin", 2L), Map.of("t.bin", e1), Map.of()).status());
        String url2 = url(trainer.uploads("break", 2, List.of("t.bin")), "t.bin");
        String e2 = put(url2, "v2");
        assertEquals(200, trainer.commit("break", 2, Map.of("t.bin", 2L), Map.of("t.bin", e2), Map.of()).status());
        assertEquals(2, trainer.latest("break").body().get("step").asLong());

        // What a w SAS allows on a leased blob: break the commit lease, then overwrite.
        HttpResponse<String> broken = Http.lease(url2, "break", null);
        assertEquals(202, broken.statusCode(), broken.body());
        assertEquals(201, Http.putBlob(url2, bytes("xx")).statusCode());
        trainer.deliverCreated("break/step-000000000002/t.bin", EventSamples.Schema.EVENT_GRID);

        assertEquals("TAMPERED", trainer.get("break", 2, false).body().get("state").asText());
        assertEquals(1, trainer.latest("break").body().get("step").asLong(), "a TAMPERED checkpoint is never latest");
    }

    // ---- attempts and eTags (finding 2) -------------------------------------------------------

    @Test
    void aManifestFileWithoutAnEtagIs400NamingTheFieldAndStoresNothing() throws Exception {
        Map<String, String> etags = trainer.write("no-etag", 1, Map.of("a.bin", bytes("aaaa"), "b.bin", bytes("bb")));
        String body = "{\"step\":1,\"files\":[{\"path\":\"a.bin\",\"size\":4,\"etag\":" + Json.write(etags.get("a.bin"))
                + "},{\"path\":\"b.bin\",\"size\":2}]}";
        Trainer.Call c = trainer.commitRaw("no-etag", 1, body);
        assertEquals(400, c.status(), c.text());
        assertEquals("InvalidManifest", c.body().get("error").get("code").asText());
        assertEquals("files[1].etag", c.body().get("error").get("target").asText());
        assertFalse(ctx.storage.container().getBlobClient(CheckpointId.of("no-etag", 1).manifestBlob()).exists());
    }

    @Test
    void aZombieOfAnEarlierAttemptWritingThroughItsOldUrlIsNeverCommitted() throws Exception {
        String run = "zombie";
        CheckpointId id = CheckpointId.of(run, 3);
        // Attempt 1: two ranks get URLs; rank 1 hangs (a zombie that keeps its live URL).
        Trainer.Call first = trainer.uploads(run, 3, List.of("a.bin", "b.bin"));
        put(url(first, "a.bin"), "a-attempt1");
        String zombieUrl = url(first, "b.bin");
        // The job is restarted: an operator deletes the half-written step and a new attempt begins.
        assertEquals("DELETED", ctx.retention.deleteNow(id, true).state().name());
        Trainer.Call second = trainer.uploads(run, 3, List.of("a.bin", "b.bin"));
        assertEquals(200, second.status(), second.text());
        Map<String, String> etags = new LinkedHashMap<>();
        etags.put("a.bin", put(url(second, "a.bin"), "a-attempt2"));
        etags.put("b.bin", put(url(second, "b.bin"), "b-attempt2"));
        // The zombie wakes up and writes its file, same size, through its old URL.
        assertEquals(201, Http.putBlob(zombieUrl, bytes("b-zombie!!")).statusCode());

        Map<String, Long> sizes = Map.of("a.bin", 10L, "b.bin", 10L);
        // An old client that sends sizes only must not get the zombie's bytes committed.
        Trainer.Call sizesOnly = trainer.commit(run, 3, new TreeMap<>(sizes), null, Map.of());
        assertEquals(400, sizesOnly.status(), "a size-only manifest committed: " + sizesOnly.text());
        // The real manifest names attempt 2's versions: the zombie's file is not the meant one.
        Trainer.Call c = trainer.commit(run, 3, new TreeMap<>(sizes), etags, Map.of());
        assertEquals(202, c.status(), c.text());
        assertEquals(List.of("b.bin"), List.of(c.body().get("missing").get(0).asText()));
        assertEquals(404, trainer.latest(run).status(), "nothing of the zombie's is ever latest");

        // The other order: the zombie writes first, the new attempt's rank overwrites it.
        CheckpointId id4 = CheckpointId.of(run, 4);
        Trainer.Call old4 = trainer.uploads(run, 4, List.of("b.bin"));
        assertEquals("DELETED", ctx.retention.deleteNow(id4, true).state().name());
        Trainer.Call new4 = trainer.uploads(run, 4, List.of("b.bin"));
        assertEquals(201, Http.putBlob(url(old4, "b.bin"), bytes("b-zombie!!")).statusCode());
        String good = put(url(new4, "b.bin"), "b-attempt2");
        Trainer.Call c4 = trainer.commit(run, 4, Map.of("b.bin", 10L), Map.of("b.bin", good), Map.of());
        assertEquals(200, c4.status(), c4.text());
        assertArrayEquals(bytes("b-attempt2"), Http.getBytes(trainer.latest(run).body().get("files").get(0)
                .get("url").asText()).body());
    }

    // ---- inputs the index must hold (finding 5) -----------------------------------------------

    @Test
    void aPathLongerThanAnIndexKeyIs400AtCommitAndNothingIsWritten() {
        CheckpointId id = CheckpointId.of("long-path", 1);
        String path = "deep/" + "p".repeat(520);
        // Written by the app's own client: the uploads call already refuses such a path.
        String etag = ctx.storage.container().getBlobClient(id.prefix() + path).getBlockBlobClient()
                .upload(BinaryData.fromString("abc"), true).getETag();
        Trainer.Call c = trainer.commit("long-path", 1, Map.of(path, 3L), Map.of(path, etag), Map.of());
        assertEquals(400, c.status(), c.text());
        assertEquals("InvalidPath", c.body().get("error").get("code").asText());
        assertEquals("files[0].path", c.body().get("error").get("target").asText());
        assertFalse(ctx.storage.container().getBlobClient(id.commitBlob()).exists(), "no commit record");
        assertFalse(ctx.storage.container().getBlobClient(id.manifestBlob()).exists(), "no manifest");
    }

    @Test
    void metricsThatWouldNotFitAnIndexPropertyAre400AndNothingIsWritten() throws Exception {
        Map<String, String> etags = trainer.write("many-metrics", 1, Map.of("a.bin", bytes("aaaa")));
        Map<String, Double> metrics = new TreeMap<>();
        for (int i = 0; i < 256; i++) {
            metrics.put(String.format("%03d", i) + "m".repeat(125), -1.2345678901234567E-200);
        }
        Trainer.Call c = trainer.commit("many-metrics", 1, Map.of("a.bin", 4L), etags, metrics);
        assertEquals(400, c.status(), c.text());
        assertEquals("InvalidManifest", c.body().get("error").get("code").asText());
        assertEquals("metrics", c.body().get("error").get("target").asText());
        assertFalse(ctx.storage.container().getBlobClient(CheckpointId.of("many-metrics", 1).commitBlob()).exists());
        // The same checkpoint with its metrics in bounds commits.
        assertEquals(200, trainer.commit("many-metrics", 1, Map.of("a.bin", 4L), etags, Map.of("loss", 1.0)).status());
    }

    @Test
    void metadataBeyondItsTotalLimitIs400() throws Exception {
        Map<String, String> etags = trainer.write("big-metadata", 1, Map.of("a.bin", bytes("aaaa")));
        StringBuilder meta = new StringBuilder("{");
        for (int i = 0; i < 64; i++) {
            meta.append(i == 0 ? "" : ",").append("\"k").append(i).append("\":\"").append("v".repeat(1024)).append('"');
        }
        meta.append('}');
        String body = "{\"step\":1,\"files\":[{\"path\":\"a.bin\",\"size\":4,\"etag\":" + Json.write(etags.get("a.bin"))
                + "}],\"metadata\":" + meta + "}";
        Trainer.Call c = trainer.commitRaw("big-metadata", 1, body);
        assertEquals(400, c.status(), c.text());
        assertEquals("metadata", c.body().get("error").get("target").asText());
    }
}
