package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.Trainer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.testing.TestApp;

/** Upload, commit, resume, as trainers and Event Grid drive it, against Azurite. */
class CommitFlowTest {
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

    static Map<String, Long> sizes(Map<String, byte[]> files) {
        Map<String, Long> m = new LinkedHashMap<>();
        files.forEach((k, v) -> m.put(k, (long) v.length));
        return m;
    }

    @Test
    void aCompleteManifestCommitsAndLatestServesTheBytes() throws Exception {
        Map<String, byte[]> files = Map.of("rank-0/model.bin", bytes("model-0"), "rank-1/model.bin", bytes("model-1!"));
        Map<String, String> etags = trainer.write("resume", 100, files);
        Trainer.Call c = trainer.commit("resume", 100, sizes(files), etags, Map.of("val_loss", 1.25));
        assertEquals(200, c.status(), c.text());
        assertEquals("COMMITTED", c.body().get("state").asText());

        Trainer.Call latest = trainer.latest("resume");
        assertEquals(200, latest.status(), latest.text());
        assertEquals(100, latest.body().get("step").asLong());
        assertEquals(1.25, latest.body().get("metrics").get("val_loss").asDouble());
        assertEquals(files.values().stream().mapToLong(b -> b.length).sum(), latest.body().get("bytes").asLong());
        for (JsonNode f : latest.body().get("files")) {
            byte[] got = Http.getBytes(f.get("url").asText()).body();
            assertArrayEquals(files.get(f.get("path").asText()), got, f.get("path").asText());
            assertTrue(f.get("url").asText().contains("sp=r&") || f.get("url").asText().contains("sp=r"));
        }
    }

    @Test
    void aRetriedIdenticalManifestGetsTheSameAnswerAndADifferentOne409() throws Exception {
        Map<String, byte[]> files = Map.of("a.bin", bytes("aaaa"));
        Map<String, String> etags = trainer.write("retry", 5, files);
        assertEquals(200, trainer.commit("retry", 5, sizes(files), etags, Map.of()).status());
        Trainer.Call again = trainer.commit("retry", 5, sizes(files), etags, Map.of());
        assertEquals(200, again.status(), again.text());
        Trainer.Call other = trainer.commit("retry", 5, sizes(files), etags, Map.of("loss", 2.0));
        assertEquals(409, other.status());
        assertEquals("ManifestConflict", other.body().get("error").get("code").asText());
    }

    @Test
    void aCommitInterruptedAfterStoringItsManifestIsFinishedByTheManifestsEvent() throws Exception {
        Map<String, byte[]> files = Map.of("rank-0/a.bin", bytes("early"), "rank-1/b.bin", bytes("late"));
        Map<String, String> etags = trainer.write("late", 7, files);
        // The commit call stored the manifest and then its process died (or storage failed) before syncing.
        StringBuilder manifest = new StringBuilder("{\"step\":7,\"files\":[");
        int i = 0;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            manifest.append(i++ == 0 ? "" : ",").append("{\"path\":\"").append(f.getKey()).append("\",\"size\":")
                    .append(f.getValue().length).append(",\"etag\":").append(dev.ckptvault.json.Json.write(
                            etags.get(f.getKey()))).append('}');
        }
        manifest.append("]}");
        CheckpointId id = CheckpointId.of("late", 7);
        ctx.store.createIfAbsent(id.manifestBlob(), dev.ckptvault.checkpoint.Manifest.fromJson(
                dev.ckptvault.json.Json.parse(manifest.toString(), "m"), 7, 10).canonical(), Map.of());
        assertEquals(404, trainer.latest("late").status(), "nothing committed yet");

        trainer.deliverCreated(id.manifestBlob(), EventSamples.Schema.CLOUD_EVENTS);
        assertEquals("COMMITTED", trainer.get("late", 7, false).body().get("state").asText());
        assertEquals(7, trainer.latest("late").body().get("step").asLong());
    }

    @Test
    void aFileInAnotherVersionThanTheManifestMeansCountsAsMissing() throws Exception {
        Map<String, byte[]> files = Map.of("m.bin", bytes("one"));
        trainer.write("version", 3, files);
        Trainer.Call c = trainer.commit("version", 3, sizes(files), Map.of("m.bin", "\"0x8DEADBEEF\""), Map.of());
        assertEquals(202, c.status(), c.text());
        assertEquals("m.bin", c.body().get("missing").get(0).asText());
    }

    @Test
    void aRestartedRanksRewriteIsWhatCommitsNotItsEarlierWrite() throws Exception {
        // A rank writes its shard, crashes, restarts, asks for its URL again and writes it anew.
        Map<String, String> first = trainer.write("crash", 9, Map.of("rank-0/m.bin", bytes("OLD!")));
        Trainer.Call u = trainer.uploads("crash", 9, List.of("rank-0/m.bin"));
        Trainer.Call sizesOnly = trainer.commit("crash", 9, Map.of("rank-0/m.bin", 4L), null, Map.of());
        assertEquals(400, sizesOnly.status(), "a manifest without eTags cannot tell the two writes apart");
        var put = Http.putBlob(u.body().get("uploads").get(0).get("url").asText(), bytes("NEW!"));
        assertEquals(201, put.statusCode());
        assertNotEquals(first.get("rank-0/m.bin"), put.headers().firstValue("ETag").orElseThrow());
        Trainer.Call c = trainer.commit("crash", 9, Map.of("rank-0/m.bin", 4L),
                Map.of("rank-0/m.bin", put.headers().firstValue("ETag").orElseThrow()), Map.of());
        assertEquals(200, c.status(), c.text());
        Trainer.Call latest = trainer.latest("crash");
        assertEquals(200, latest.status(), latest.text());
        assertArrayEquals(bytes("NEW!"), Http.getBytes(latest.body().get("files").get(0).get("url").asText()).body());
    }

    @Test
    void aCommittedCheckpointRefusesUploadsAndOldUrls() throws Exception {
        Trainer.Call u = trainer.uploads("immutable", 1, List.of("w.bin"));
        String url = u.body().get("uploads").get(0).get("url").asText();
        var put = Http.putBlob(url, bytes("good"));
        assertEquals(200, trainer.commit("immutable", 1, Map.of("w.bin", 4L),
                Map.of("w.bin", put.headers().firstValue("ETag").orElseThrow()), Map.of()).status());
        Trainer.Call again = trainer.uploads("immutable", 1, List.of("w.bin"));
        assertEquals(409, again.status());
        assertEquals("CheckpointCommitted", again.body().get("error").get("code").asText());
        int overwrite = Http.putBlob(url, bytes("evil")).statusCode();
        assertTrue(overwrite == 412 || overwrite == 409, "a URL issued before the commit cannot overwrite: " + overwrite);
        assertArrayEquals(bytes("good"), ctx.storage.container().getBlobClient("immutable/step-000000000001/w.bin")
                .downloadContent().toBytes());
    }

    @Test
    void aCommittedFileChangedAfterwardsIsTamperedAndLeavesLatest() throws Exception {
        Map<String, byte[]> v1 = Map.of("t.bin", bytes("v1"));
        assertEquals(200, trainer.commit("tamper", 1, sizes(v1), trainer.write("tamper", 1, v1), Map.of()).status());
        Map<String, byte[]> v2 = Map.of("t.bin", bytes("v2"));
        assertEquals(200, trainer.commit("tamper", 2, sizes(v2), trainer.write("tamper", 2, v2), Map.of()).status());
        assertEquals(2, trainer.latest("tamper").body().get("step").asLong());

        // Someone with the account key breaks the lease and overwrites a committed file.
        String blob = "tamper/step-000000000002/t.bin";
        var client = ctx.storage.container().getBlobClient(blob);
        new com.azure.storage.blob.specialized.BlobLeaseClientBuilder().blobClient(client).buildClient().breakLease();
        client.upload(com.azure.core.util.BinaryData.fromString("xx"), true);
        trainer.deliverCreated(blob, EventSamples.Schema.EVENT_GRID);

        assertEquals("TAMPERED", trainer.get("tamper", 2, false).body().get("state").asText());
        assertEquals(1, trainer.latest("tamper").body().get("step").asLong());
    }

    @Test
    void aShardEventOfAnUploadingCheckpointCostsThreeTableOperations() throws Exception {
        trainer.write("ops", 1, Map.of("rank-0/a.bin", bytes("a")));
        Trainer.Call u = trainer.uploads("ops", 1, List.of("rank-1/b.bin"));
        Http.putBlob(u.body().get("uploads").get(0).get("url").asText(), bytes("b"));
        long before = ctx.index.operations();
        trainer.deliverCreated("ops/step-000000000001/rank-1/b.bin", EventSamples.Schema.EVENT_GRID);
        long perEvent = ctx.index.operations() - before;
        System.out.println("table operations per shard event (UPLOADING): " + perEvent);
        assertEquals(3, perEvent, "read file row, write file row, read checkpoint row");
    }

    @Test
    void aStaleEventForABlobIsIgnored() throws Exception {
        String blob = "stale/step-000000000001/s.bin";
        trainer.write("stale", 1, Map.of("s.bin", bytes("first")));
        var props = ctx.storage.container().getBlobClient(blob).getProperties();
        String older = EventSamples.nextSequencer();
        String newer = EventSamples.nextSequencer();
        String account = ctx.storage.blobService().getAccountName();
        trainer.deliver(EventSamples.created(EventSamples.Schema.EVENT_GRID, account, ctx.config.container(), blob,
                props.getETag(), props.getBlobSize(), newer));
        trainer.deliver(EventSamples.deleted(EventSamples.Schema.EVENT_GRID, account, ctx.config.container(), blob,
                older));
        JsonNode files = trainer.get("stale", 1, false).body().get("files");
        assertEquals(1, files.size(), "the older delete did not remove the newer create");
        assertNotEquals("", files.get(0).get("etag").asText());
    }

    @Test
    void reindexRebuildsTheSameViewFromTheContainer() throws Exception {
        Map<String, byte[]> files = Map.of("r.bin", bytes("reindex"));
        trainer.commit("reidx", 4, sizes(files), trainer.write("reidx", 4, files), Map.of("acc", 0.5));
        trainer.write("reidx", 6, Map.of("u.bin", bytes("uploading")));
        // The event-built view: Event Grid delivers one event per write.
        trainer.deliverCreated("reidx/step-000000000004/r.bin", EventSamples.Schema.EVENT_GRID);
        trainer.deliverCreated("reidx/step-000000000006/u.bin", EventSamples.Schema.EVENT_GRID);
        JsonNode before4 = trainer.get("reidx", 4, false).body();
        JsonNode before6 = trainer.get("reidx", 6, false).body();
        ctx.index.dropCheckpoint(CheckpointId.of("reidx", 4));
        ctx.index.dropCheckpoint(CheckpointId.of("reidx", 6));
        assertEquals(404, trainer.get("reidx", 4, false).status());
        ctx.reindexer.reindex(new dev.ckptvault.layout.RunId("reidx"));
        for (String field : List.of("state", "files", "bytes", "metrics", "pinned")) {
            assertEquals(before4.get(field), trainer.get("reidx", 4, false).body().get(field), field);
            assertEquals(before6.get(field), trainer.get("reidx", 6, false).body().get(field), field);
        }
    }
}
