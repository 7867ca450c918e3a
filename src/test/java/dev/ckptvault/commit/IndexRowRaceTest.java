package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.specialized.BlobLeaseClientBuilder;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two app instances sync one checkpoint; the one that listed first writes its row last. Its older
 * view must not replace the newer one: a COMMITTED row never goes back to UPLOADING (the Python
 * client would wait for a commit that already happened), and a TAMPERED row never back to
 * COMMITTED (latest would hand out a changed checkpoint).
 */
class IndexRowRaceTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp a;
    static TestApp b;
    static ExecutorService pool;

    @BeforeAll
    static void setUp() {
        a = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "100"), Clock.systemUTC());
        b = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "100"), Clock.systemUTC());
        pool = Executors.newCachedThreadPool();
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
        a.close();
        b.close();
    }

    /**
     * A sync of instance {@code app} that stops once, after its listing and before it writes
     * anything (the run's TTL is asked for in between), until released.
     */
    static final class SlowSync {
        final CountDownLatch listed = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final AtomicBoolean armed = new AtomicBoolean(true);
        final CheckpointSync sync;

        SlowSync(TestApp app) {
            sync = new CheckpointSync(app.store, app.index, new CommitLeases(app.store, pool), app.clock, run -> {
                if (armed.compareAndSet(true, false)) {
                    listed.countDown();
                    await(release);
                }
                return app.policies.incompleteTtl(run);
            });
        }

        Future<Checkpoint> refreshUntilListed(CheckpointId id) {
            Future<Checkpoint> f = pool.submit(() -> sync.refresh(id));
            await(listed);
            return f;
        }
    }

    static void await(CountDownLatch latch) {
        try {
            assertTrue(latch.await(60, TimeUnit.SECONDS), "latch not reached within 60 s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static Map<String, Long> sizes(CheckpointId id, int files) {
        Map<String, Long> sizes = new LinkedHashMap<>();
        for (int i = 0; i < files; i++) {
            String path = "rank-" + i + "/shard.bin";
            sizes.put(path, (long) ("data of " + id.prefix() + path).getBytes(StandardCharsets.UTF_8).length);
        }
        return sizes;
    }

    @Test
    void aSlowerSyncNeverTurnsACommittedRowBackToUploading() throws Exception {
        String run = "race-commit";
        CheckpointId id = CheckpointId.of(run, 1);
        Trainer trainer = new Trainer(b);
        List<String> etags = trainer.writeSmall(run, 1, 2);

        SlowSync slow = new SlowSync(a);
        Future<Checkpoint> stale = slow.refreshUntilListed(id); // lists: files, no manifest (UPLOADING)
        Map<String, String> byPath = new LinkedHashMap<>();
        byPath.put("rank-0/shard.bin", etags.get(0));
        byPath.put("rank-1/shard.bin", etags.get(1));
        Trainer.Call commit = trainer.commit(run, 1, sizes(id, 2), byPath, Map.of());
        assertEquals(200, commit.status(), commit.text());
        assertEquals(CheckpointState.COMMITTED, b.sync.get(id).orElseThrow().state());

        slow.release.countDown();
        stale.get(60, TimeUnit.SECONDS);
        assertEquals(CheckpointState.COMMITTED, a.sync.get(id).orElseThrow().state(),
                "the older UPLOADING view replaced the COMMITTED row");
        assertEquals(200, new Trainer(a).latest(run).status());
        assertFalse(a.sync.open().contains(id), "a committed checkpoint is not open");
    }

    @Test
    void aSlowerSyncNeverTurnsATamperedRowBackToCommitted() throws Exception {
        String run = "race-tamper";
        CheckpointId id = CheckpointId.of(run, 1);
        Trainer trainer = new Trainer(b);
        trainer.commitSmall(run, 1, 2, Map.of());
        assertTrue(b.afterCommit.drain(java.time.Duration.ofSeconds(60)));

        SlowSync slow = new SlowSync(a);
        Future<Checkpoint> stale = slow.refreshUntilListed(id); // lists: intact (COMMITTED)
        String blob = id.prefix() + "rank-0/shard.bin";
        var client = b.storage.container().getBlobClient(blob);
        new BlobLeaseClientBuilder().blobClient(client).buildClient().breakLease();
        client.upload(BinaryData.fromString("overwritten"), true);
        trainer.deliverCreated(blob, EventSamples.Schema.EVENT_GRID);
        assertEquals(CheckpointState.TAMPERED, b.sync.get(id).orElseThrow().state());

        slow.release.countDown();
        stale.get(60, TimeUnit.SECONDS);
        assertEquals(CheckpointState.TAMPERED, a.sync.get(id).orElseThrow().state(),
                "the older COMMITTED view replaced the TAMPERED row");
        assertEquals(404, new Trainer(a).latest(run).status(), "a TAMPERED checkpoint is never latest");
    }
}
