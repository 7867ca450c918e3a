package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.Manifest;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Reindex lists the container, then rebuilds checkpoint after checkpoint; storage and the index
 * go on changing meanwhile. What changed after its listing began must win: no commit record from
 * the listing's stale eTags, no row of a checkpoint created meanwhile dropped, no row written
 * meanwhile replaced by the listing's older view.
 */
class ReindexRaceTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp app;
    static ExecutorService pool;

    @BeforeAll
    static void setUp() {
        app = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "100"), Clock.systemUTC());
        pool = Executors.newCachedThreadPool();
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
        app.close();
    }

    /** A reindexer of this instance that runs {@code meanwhile} once, after its listing, at its first rebuild. */
    static Reindexer reindexerWith(Runnable meanwhile) {
        AtomicBoolean once = new AtomicBoolean(true);
        CheckpointSync sync = new CheckpointSync(app.store, app.index, new CommitLeases(app.store, pool), app.clock,
                run -> {
                    if (once.compareAndSet(true, false)) {
                        meanwhile.run();
                    }
                    return app.policies.incompleteTtl(run);
                });
        return new Reindexer(app.store, app.index, sync);
    }

    /** Files written through their write URLs; returns path -> URL, etags filled in. */
    static Map<String, String> writeThroughUrls(Trainer t, String run, long step, Map<String, byte[]> files,
                                                Map<String, String> etags) throws Exception {
        Trainer.Call u = t.uploads(run, step, List.copyOf(files.keySet()));
        assertEquals(200, u.status(), u.text());
        Map<String, String> urls = new LinkedHashMap<>();
        for (JsonNode up : u.body().get("uploads")) {
            String path = up.get("path").asText();
            urls.put(path, up.get("url").asText());
            var put = Http.putBlob(up.get("url").asText(), files.get(path));
            assertEquals(201, put.statusCode(), put.body());
            etags.put(path, put.headers().firstValue("ETag").orElseThrow());
        }
        return urls;
    }

    /**
     * The commit call stored the manifest and its process stopped before it synced (and the
     * manifest's event was lost): in storage a complete checkpoint without a commit record.
     */
    static void manifestOnly(CheckpointId id, Map<String, byte[]> files, Map<String, String> etags) {
        StringBuilder m = new StringBuilder("{\"step\":" + id.step().value() + ",\"files\":[");
        int i = 0;
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            m.append(i++ == 0 ? "" : ",").append("{\"path\":\"").append(f.getKey()).append("\",\"size\":")
                    .append(f.getValue().length).append(",\"etag\":").append(Json.write(etags.get(f.getKey())))
                    .append('}');
        }
        m.append("]}");
        byte[] canonical = Manifest.fromJson(Json.parse(m.toString(), "manifest"), id.step().value(), 100).canonical();
        assertTrue(app.store.createIfAbsent(id.manifestBlob(), canonical, Map.of()));
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void reindexNeverCommitsFromItsStaleListing() throws Exception {
        String run = "reindex-stale-commit";
        Trainer t = new Trainer(app);
        t.commitSmall(run, 1, 1, Map.of());
        CheckpointId id = CheckpointId.of(run, 2);
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("rank-0/a.bin", bytes("shard zero"));
        files.put("rank-1/b.bin", bytes("shard one"));
        Map<String, String> etags = new LinkedHashMap<>();
        Map<String, String> urls = writeThroughUrls(t, run, 2, files, etags);
        manifestOnly(id, files, etags);

        // After the reindex listed the container: rank 0's PUT is retried (same bytes, new eTag), so
        // the manifest's version of the file is gone and the checkpoint can no longer commit.
        Reindexer reindexer = reindexerWith(() -> {
            try {
                assertEquals(201, Http.putBlob(urls.get("rank-0/a.bin"), files.get("rank-0/a.bin")).statusCode());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        reindexer.reindex(new RunId(run));

        assertFalse(app.store.records(id).containsKey(dev.ckptvault.layout.BlobName.Kind.COMMIT),
                "a commit record was written from the stale listing");
        Checkpoint c = app.sync.get(id).orElseThrow();
        assertEquals(CheckpointState.COMMITTING, c.state());
        assertEquals(List.of("rank-0/a.bin"), c.missing());
        assertEquals(1, t.latest(run).body().get("step").asLong());
    }

    @Test
    void reindexKeepsTheRowOfACheckpointCreatedAfterItsListing() {
        String run = "reindex-young";
        Trainer t = new Trainer(app);
        t.commitSmall(run, 1, 1, Map.of());
        Reindexer reindexer = reindexerWith(() -> t.commitSmall(run, 5, 1, Map.of()));
        Map<String, Object> report = reindexer.reindex(new RunId(run));

        Checkpoint young = app.sync.get(CheckpointId.of(run, 5)).orElseThrow(
                () -> new AssertionError("the row of step 5, created during the reindex, was dropped: " + report));
        assertEquals(CheckpointState.COMMITTED, young.state());
        assertEquals(5, t.latest(run).body().get("step").asLong());
        assertEquals(0, report.get("droppedRows"), report.toString());
    }

    @Test
    void reindexNeverReplacesARowWrittenAfterItsListingWithItsOlderView() throws Exception {
        String run = "reindex-newer-row";
        Trainer t = new Trainer(app);
        t.commitSmall(run, 1, 1, Map.of());
        CheckpointId id = CheckpointId.of(run, 3);
        Map<String, byte[]> files = Map.of("rank-0/a.bin", bytes("three"));
        Map<String, String> etags = new LinkedHashMap<>();
        writeThroughUrls(t, run, 3, files, etags);
        Reindexer reindexer = reindexerWith(() -> {
            Trainer.Call c = t.commit(run, 3, Map.of("rank-0/a.bin", (long) files.get("rank-0/a.bin").length), etags,
                    Map.of());
            assertEquals(200, c.status(), c.text());
        });
        reindexer.reindex(new RunId(run));

        assertEquals(CheckpointState.COMMITTED, app.sync.get(id).orElseThrow().state(),
                "the listing's UPLOADING view replaced the COMMITTED row written after it");
        assertEquals(3, t.latest(run).body().get("step").asLong());
    }
}
