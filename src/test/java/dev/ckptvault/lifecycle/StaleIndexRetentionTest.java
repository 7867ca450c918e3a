package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.specialized.BlobLeaseClientBuilder;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.retention.RetentionPlan;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Retention when the index is behind storage: a committed file was overwritten and its event was
 * lost, so the index still calls the checkpoint COMMITTED. The checkpoints whose being committed
 * lets the plan remove others (latest, the keepLast and keepBest sets) are re-read from storage
 * before anything is deleted; when storage disagrees, nothing is deleted.
 */
class StaleIndexRetentionTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp app;
    static Trainer trainer;

    @BeforeAll
    static void setUp() {
        app = AZURITE.app(Map.of("CKPT_RETENTION_MIN_AGE_MINUTES", "0"), Clock.systemUTC());
        trainer = new Trainer(app);
    }

    static void putPolicy(String run, String retention) {
        var r = app.function(PutRunFunction.class).run(LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run,
                Map.of(), "{\"retention\":" + retention + "}"), run);
        assertEquals(200, r.getStatusCode());
    }

    /** What a holder of the account key (or of a write URL, which may break a lease) can do; Event Grid loses the event. */
    static void overwriteWithoutEvent(String blobName) {
        var blob = app.storage.container().getBlobClient(blobName);
        new BlobLeaseClientBuilder().blobClient(blob).buildClient().breakLease();
        blob.upload(BinaryData.fromString("overwritten after the commit"), true);
    }

    static void drain() {
        assertTrue(app.afterCommit.drain(Duration.ofSeconds(60)), "after-commit work did not finish");
    }

    static void assertIntact(String run, long step, String why) {
        CheckpointId id = CheckpointId.of(run, step);
        Set<String> blobs = app.store.list(id.prefix(), false).stream().map(StoredBlob::name)
                .collect(Collectors.toSet());
        assertTrue(blobs.contains(id.commitBlob()) && blobs.contains(id.prefix() + "rank-0/shard.bin")
                && blobs.contains(id.prefix() + "rank-1/shard.bin") && !blobs.contains(id.tombstoneBlob()),
                why + ": step " + step + " was deleted: " + blobs);
    }

    @Test
    void aTamperedLatestWhoseEventWasLostDoesNotLetRetentionDeleteTheNewestIntactCheckpoint() {
        String run = "stale-latest";
        putPolicy(run, "{\"keepLast\":2}");
        trainer.commitSmall(run, 1, 2, Map.of());
        trainer.commitSmall(run, 2, 2, Map.of());
        drain();
        overwriteWithoutEvent(CheckpointId.of(run, 2).prefix() + "rank-0/shard.bin");
        assertEquals(CheckpointState.COMMITTED, app.sync.get(CheckpointId.of(run, 2)).orElseThrow().state(),
                "the index has not heard of the overwrite");
        putPolicy(run, "{\"keepLast\":1}");

        RetentionService.RunResult first = app.retention.enforce(new RunId(run));
        assertIntact(run, 1, "step 2 is TAMPERED in storage, so step 1 is the newest intact checkpoint");
        assertTrue(first.results().stream().noneMatch(r -> r.outcome() == RetentionEnforcer.Outcome.DELETED),
                first.toString());
        assertEquals(CheckpointState.TAMPERED, app.sync.get(CheckpointId.of(run, 2)).orElseThrow().state(),
                "the re-read brought the index in line with storage");

        app.retention.enforce(new RunId(run));
        assertIntact(run, 1, "the next pass plans from the corrected index");
        RetentionPlan.Kept kept = app.retention.plan(new RunId(run)).keep().stream().filter(k -> k.step() == 1)
                .findFirst().orElseThrow();
        assertTrue(kept.reasons().contains("latest"), kept.toString());
        assertEquals(1, trainer.latest(run).body().get("step").asLong());
    }

    @Test
    void aTamperedKeepLastMemberWhoseEventWasLostDoesNotLetRetentionDeleteTheNextIntactOne() {
        String run = "stale-keeplast";
        putPolicy(run, "{\"keepLast\":3}");
        for (long step = 1; step <= 3; step++) {
            trainer.commitSmall(run, step, 2, Map.of());
        }
        drain();
        overwriteWithoutEvent(CheckpointId.of(run, 2).prefix() + "rank-1/shard.bin");
        putPolicy(run, "{\"keepLast\":2}");

        app.retention.enforce(new RunId(run));
        // The two newest intact checkpoints are 3 and 1.
        assertIntact(run, 1, "step 2 is TAMPERED in storage, so step 1 is one of the two newest intact");
        assertIntact(run, 3, "latest");
        app.retention.enforce(new RunId(run));
        assertIntact(run, 1, "the next pass plans from the corrected index");
        List<Long> keptCommitted = app.retention.plan(new RunId(run)).keep().stream()
                .filter(k -> k.state() == CheckpointState.COMMITTED).map(RetentionPlan.Kept::step).toList();
        assertEquals(List.of(3L, 1L), keptCommitted);
        assertTrue(app.retention.plan(new RunId(run)).remove().stream().noneMatch(r -> r.step() == 1));
    }
}
