package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.storage.blob.models.AccessTier;
import com.azure.storage.blob.models.BlobProperties;
import com.azure.storage.blob.models.LeaseStateType;
import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.functions.DeleteCheckpointFunction;
import dev.ckptvault.functions.PinFunction;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.functions.RetentionPlanFunction;
import dev.ckptvault.functions.UnpinFunction;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Trainer;
import dev.ckptvault.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.retention.RetentionPolicy;

/** Retention against real storage (Azurite): exactly the expected blobs remain, leases do not block, crashes finish. */
class RetentionEnforcementTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static MutableClock clock;
    static TestApp ctx;
    static Trainer fixture;

    @BeforeAll
    static void setUp() {
        clock = new MutableClock(Instant.now());
        // URLs live at most 30 minutes, so a run may set a TTL of 30 (a TTL is never shorter than a URL).
        ctx = AZURITE.app(Map.of("CKPT_RETENTION_KEEP_LAST", "1", "CKPT_RETENTION_MIN_AGE_MINUTES", "0",
                "CKPT_URL_MAX_MINUTES", "30"), clock);
        fixture = new Trainer(ctx);
    }

    static LocalHttpResponse putRun(String run, String body) {
        return (LocalHttpResponse) ctx.function(PutRunFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run, Map.of(), body), run);
    }

    static JsonNode json(LocalHttpResponse r) {
        return Json.parse(r.bodyText(), "response");
    }

    static void drain() {
        assertTrue(ctx.afterCommit.drain(Duration.ofSeconds(60)), "after-commit work did not finish");
    }

    /** The blobs a kept checkpoint has, and the one a deleted checkpoint leaves. */
    static Set<String> expectedBlobs(String run, List<Long> kept, List<Long> deleted, int files) {
        Set<String> out = new TreeSet<>();
        out.add(run + "/_run.json");
        for (long s : kept) {
            CheckpointId id = CheckpointId.of(run, s);
            for (int i = 0; i < files; i++) {
                out.add(id.prefix() + "rank-" + i + "/shard.bin");
            }
            out.add(id.manifestBlob());
            out.add(id.commitBlob());
            out.add(id.attemptBlob());
        }
        for (long s : deleted) {
            out.add(CheckpointId.of(run, s).tombstoneBlob());
        }
        return out;
    }

    @Test
    void twentyCheckpointsWithKeepLast3AndKeepEvery5EndWithExactlyTheExpectedBlobs() {
        String run = "twenty";
        assertEquals(200, putRun(run, "{\"retention\":{\"keepLast\":3,\"keepEvery\":5,\"minAgeMinutes\":0}}")
                .getStatusCode());
        for (long step = 1; step <= 20; step++) {
            fixture.commitSmall(run, step, 2, Map.of("loss", 1.0 / step));
        }
        drain();
        Sweeper.Report report = ctx.sweeper.sweep();
        assertEquals(0, report.failures(), report.toString());

        List<Long> kept = List.of(5L, 10L, 15L, 18L, 19L, 20L);
        List<Long> deleted = new ArrayList<>();
        for (long s = 1; s <= 20; s++) {
            if (!kept.contains(s)) {
                deleted.add(s);
            }
        }
        assertEquals(expectedBlobs(run, kept, deleted, 2), new TreeSet<>(fixture.blobs(run + "/")));
        for (long s : deleted) {
            assertEquals(CheckpointState.DELETED, ctx.sync.get(CheckpointId.of(run, s)).orElseThrow().state());
        }
        assertTrue(ctx.sweeper.sweep().changedNothing(), "a second sweep changes nothing");
        assertEquals(expectedBlobs(run, kept, deleted, 2), new TreeSet<>(fixture.blobs(run + "/")));

        Tombstone t = Json.read(ctx.store.download(CheckpointId.of(run, 7).tombstoneBlob()).orElseThrow(),
                Tombstone.class);
        assertEquals(CheckpointState.COMMITTED, t.state());
        assertTrue(t.reason().startsWith("committed, kept by no rule (keepLast 3, keepEvery 5"), t.reason());
        assertTrue(t.blobs().contains(CheckpointId.of(run, 7).prefix() + "rank-1/shard.bin"), t.blobs().toString());
    }

    @Test
    void aLeaseTakenAtCommitDoesNotBlockDeletion() {
        String run = "leased";
        putRun(run, "{\"retention\":{\"keepLast\":5}}");
        fixture.commitSmall(run, 1, 3, Map.of());
        fixture.commitSmall(run, 2, 1, Map.of());
        drain();
        CheckpointId id = CheckpointId.of(run, 1);
        BlobProperties before = ctx.storage.container().getBlobClient(id.prefix() + "rank-0/shard.bin").getProperties();
        assertEquals(LeaseStateType.LEASED, before.getLeaseState(), "the commit leased the file");

        RetentionService.DeleteAnswer answer = ctx.retention.deleteNow(id, false);
        assertEquals(CheckpointState.DELETED, answer.state());
        assertEquals(List.of(id.tombstoneBlob()), fixture.blobs(id.prefix()));
    }

    @Test
    void aCrashBetweenTombstoneAndDeleteIsFinishedByTheNextSweep() {
        String run = "crashy";
        putRun(run, "{\"retention\":{\"keepLast\":1}}");
        fixture.commitSmall(run, 1, 2, Map.of());
        drain();
        CheckpointId id = CheckpointId.of(run, 1);
        RetentionEnforcer crashing = ctx.enforcer((point, at) -> {
                    if (point.equals(RetentionEnforcer.AFTER_TOMBSTONE)) {
                        throw new IllegalStateException("injected crash after the tombstone");
                    }
                });
        var checkpoint = ctx.sync.refresh(id);
        assertThrows(IllegalStateException.class, () -> crashing.delete(checkpoint, "test", true));
        assertTrue(fixture.blobs(id.prefix()).contains(id.tombstoneBlob()));
        assertTrue(fixture.blobs(id.prefix()).size() > 1, "files still there after the crash");
        assertEquals(CheckpointState.DELETING, ctx.sync.refresh(id).state());

        ctx.sweeper.sweep();
        assertEquals(List.of(id.tombstoneBlob()), fixture.blobs(id.prefix()));
        assertEquals(CheckpointState.DELETED, ctx.sync.get(id).orElseThrow().state());
    }

    @Test
    void actionCoolMovesFilesToTheCoolTierKeepingTheirLeases() {
        String run = "cooled";
        putRun(run, "{\"retention\":{\"keepLast\":1,\"action\":\"cool\"}}");
        fixture.commitSmall(run, 1, 2, Map.of());
        fixture.commitSmall(run, 2, 2, Map.of());
        drain();
        ctx.sweeper.sweep();
        CheckpointId id = CheckpointId.of(run, 1);
        BlobProperties p = ctx.storage.container().getBlobClient(id.prefix() + "rank-0/shard.bin").getProperties();
        assertEquals(AccessTier.COOL, p.getAccessTier());
        assertEquals(LeaseStateType.LEASED, p.getLeaseState(), "a cooled checkpoint stays immutable");
        assertEquals("cool", ctx.sync.get(id).orElseThrow().tier());
        assertEquals(CheckpointState.COMMITTED, ctx.sync.get(id).orElseThrow().state());
        assertEquals("hot", ctx.sync.get(CheckpointId.of(run, 2)).orElseThrow().tier());
        assertTrue(ctx.sweeper.sweep().changedNothing());
    }

    @Test
    void abandonedUploadsAreCollectedAfterTheirTtl() {
        String run = "abandoned";
        putRun(run, "{\"retention\":{\"incompleteTtlMinutes\":30}}");
        fixture.commitSmall(run, 1, 1, Map.of());
        fixture.writeSmall(run, 2, 2);
        drain();
        ctx.sweeper.sweep();
        assertEquals(CheckpointState.UPLOADING, ctx.sync.get(CheckpointId.of(run, 2)).orElseThrow().state());
        assertTrue(fixture.blobs(CheckpointId.of(run, 2).prefix()).size() >= 2);

        clock.advance(Duration.ofDays(2)); // past both the run's TTL and the app's default (1440 min)
        try {
            ctx.sweeper.sweep();
        } finally {
            clock.advance(Duration.ofDays(-2).plusSeconds(1));
        }
        assertEquals(List.of(CheckpointId.of(run, 2).tombstoneBlob()), fixture.blobs(CheckpointId.of(run, 2).prefix()));
        assertEquals(CheckpointState.COMMITTED, ctx.sync.get(CheckpointId.of(run, 1)).orElseThrow().state());
    }

    @Test
    void aPinnedCheckpointSurvivesUntilUnpinned() {
        String run = "pinned";
        putRun(run, "{\"retention\":{\"keepLast\":1}}");
        fixture.commitSmall(run, 1, 1, Map.of());
        CheckpointId id = CheckpointId.of(run, 1);
        LocalHttpResponse pin = (LocalHttpResponse) ctx.function(PinFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run + "/checkpoints/1/pin", Map.of(), null), run, "1");
        assertEquals(200, pin.getStatusCode(), pin.bodyText());
        assertTrue(json(pin).get("pinned").asBoolean());
        fixture.commitSmall(run, 2, 1, Map.of());
        drain();
        ctx.sweeper.sweep();
        assertTrue(fixture.blobs(id.prefix()).contains(id.commitBlob()), "pinned checkpoint kept");
        Map<String, String> metadata = ctx.store.metadata(id.commitBlob()).orElseThrow();
        assertEquals("true", metadata.get(CommitRecord.PINNED_METADATA));

        LocalHttpResponse plan = (LocalHttpResponse) ctx.function(RetentionPlanFunction.class).run(
                LocalHttpRequest.of(HttpMethod.GET, "/api/runs/" + run + "/retention/plan", Map.of(), null,
                        fixture.bearer(run)), run);
        assertEquals(200, plan.getStatusCode());
        assertEquals("[{\"step\":2,\"state\":\"COMMITTED\",\"reasons\":[\"latest\",\"keepLast 1 (#1 newest committed)\"]},"
                + "{\"step\":1,\"state\":\"COMMITTED\",\"reasons\":[\"pinned\"]}]", json(plan).get("keep").toString());

        LocalHttpResponse unpin = (LocalHttpResponse) ctx.function(UnpinFunction.class).run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/" + run + "/checkpoints/1/pin", Map.of(), null), run, "1");
        assertEquals(200, unpin.getStatusCode(), unpin.bodyText());
        assertFalse(json(unpin).get("pinned").asBoolean());
        ctx.sweeper.sweep();
        assertEquals(List.of(id.tombstoneBlob()), fixture.blobs(id.prefix()));
    }

    @Test
    void pinAnswers404ForNoSuchCheckpointAnd409WhenNotCommitted() {
        fixture.writeSmall("pin-errors", 3, 1);
        LocalHttpResponse missing = (LocalHttpResponse) ctx.function(PinFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/pin-errors/checkpoints/99/pin", Map.of(), null),
                "pin-errors", "99");
        assertEquals(404, missing.getStatusCode());
        assertEquals("NotFound", json(missing).get("error").get("code").asText());
        LocalHttpResponse uploading = (LocalHttpResponse) ctx.function(PinFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/pin-errors/checkpoints/3/pin", Map.of(), null),
                "pin-errors", "3");
        assertEquals(409, uploading.getStatusCode());
        assertEquals("CheckpointNotCommitted", json(uploading).get("error").get("code").asText());
        LocalHttpResponse badStep = (LocalHttpResponse) ctx.function(PinFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/pin-errors/checkpoints/x/pin", Map.of(), null),
                "pin-errors", "x");
        assertEquals(400, badStep.getStatusCode());
    }

    @Test
    void deletingTheOnlyCommittedCheckpointNeedsForce() {
        String run = "only";
        fixture.commitSmall(run, 1, 1, Map.of());
        drain();
        DeleteCheckpointFunction f = ctx.function(DeleteCheckpointFunction.class);
        LocalHttpResponse refused = (LocalHttpResponse) f.run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/only/checkpoints/1", Map.of(), null), run, "1");
        assertEquals(409, refused.getStatusCode());
        assertEquals("OnlyCommittedCheckpoint", json(refused).get("error").get("code").asText());
        LocalHttpResponse badForce = (LocalHttpResponse) f.run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/only/checkpoints/1", Map.of("force", "yes"), null), run, "1");
        assertEquals(400, badForce.getStatusCode());
        assertEquals("force", json(badForce).get("error").get("target").asText());
        LocalHttpResponse forced = (LocalHttpResponse) f.run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/only/checkpoints/1", Map.of("force", "true"), null), run, "1");
        assertEquals(200, forced.getStatusCode(), forced.bodyText());
        assertEquals("DELETED", json(forced).get("state").asText());
        LocalHttpResponse again = (LocalHttpResponse) f.run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/only/checkpoints/1", Map.of(), null), run, "1");
        assertEquals(200, again.getStatusCode(), "deleting a deleted checkpoint is idempotent");
        LocalHttpResponse none = (LocalHttpResponse) f.run(
                LocalHttpRequest.of(HttpMethod.DELETE, "/api/runs/only/checkpoints/5", Map.of(), null), run, "5");
        assertEquals(404, none.getStatusCode());
    }

    @Test
    void putRunStoresOnlyTheUsersFieldsAndAnswersTheEffectivePolicy() {
        LocalHttpResponse r = putRun("policy-run", "{\"retention\":{\"keepLast\":5,\"keepBest\":"
                + "{\"metric\":\"val_loss\",\"mode\":\"min\",\"count\":2}}}");
        assertEquals(200, r.getStatusCode(), r.bodyText());
        JsonNode body = json(r);
        assertEquals(5, body.get("retention").get("keepLast").asInt());
        assertEquals(0, body.get("retention").get("minAgeMinutes").asInt(), "default from the app settings");
        assertEquals("delete", body.get("retention").get("action").asText());
        JsonNode stored = Json.parse(new String(ctx.store.download("policy-run/_run.json").orElseThrow()), "s");
        assertEquals("policy-run", stored.get("runId").asText());
        assertTrue(stored.hasNonNull("createdAt"));
        assertEquals("{\"keepLast\":5,\"keepBest\":{\"metric\":\"val_loss\",\"mode\":\"min\",\"count\":2}}",
                stored.get("retention").toString());
        assertEquals(5, ctx.policies.effective(new RunId("policy-run")).keepLast());

        putRun("policy-run", "{\"retention\":{\"action\":\"cool\"}}");
        RetentionPolicy now = ctx.policies.effective(new RunId("policy-run"));
        assertEquals(1, now.keepLast(), "PUT replaces what the user set; the rest falls back to defaults");
        assertEquals(RetentionPolicy.Action.COOL, now.action());
        assertEquals(stored.get("createdAt"), Json.parse(new String(ctx.store.download("policy-run/_run.json")
                .orElseThrow()), "s").get("createdAt"), "createdAt survives updates");

        LocalHttpResponse bad = putRun("policy-run", "{\"retention\":{\"keepBest\":{\"metric\":\"l\",\"mode\":\"mid\",\"count\":1}}}");
        assertEquals(400, bad.getStatusCode());
        assertEquals("InvalidPolicy", json(bad).get("error").get("code").asText());
        assertEquals("retention.keepBest.mode", json(bad).get("error").get("target").asText());
        LocalHttpResponse unknown = putRun("policy-run", "{\"retentoin\":{}}");
        assertEquals(400, unknown.getStatusCode());
        assertEquals("retentoin", json(unknown).get("error").get("target").asText());
        assertEquals(400, putRun("-bad", "{}").getStatusCode());
    }

    @Test
    void aStoredPolicyWrittenOutOfBandThatIsInvalidKeepsEverything() {
        String run = "broken-policy";
        putRun(run, "{}");
        var stored = ctx.storage.container().getBlobClient(run + "/_run.json");
        stored.upload(com.azure.core.util.BinaryData.fromString(
                "{\"runId\":\"broken-policy\",\"retention\":{\"keepLast\":-4}}"), true);
        fixture.commitSmall(run, 1, 1, Map.of());
        fixture.commitSmall(run, 2, 1, Map.of());
        drain();
        RetentionService.PlanView plan = ctx.retention.plan(new RunId(run));
        assertTrue(plan.remove().isEmpty());
        assertTrue(plan.policyProblem().contains("retention.keepLast"), plan.policyProblem());
        ctx.sweeper.sweep();
        assertTrue(fixture.blobs(CheckpointId.of(run, 1).prefix()).contains(CheckpointId.of(run, 1).commitBlob()));
    }

    @Test
    void planOfAnUnknownRunIs404() {
        assertThrows(NotFoundException.class, () -> ctx.retention.plan(new RunId("nobody")));
    }

    @Test
    void unpinnedMarkKeepsOtherMetadata() {
        String run = "metadata";
        fixture.commitSmall(run, 1, 1, Map.of());
        CheckpointId id = CheckpointId.of(run, 1);
        ctx.store.mergeMetadata(id.commitBlob(), Map.of(OutgoingEvents.COMMITTED_MARK, "true"));
        ctx.retention.pin(id, true);
        Map<String, String> m = ctx.store.metadata(id.commitBlob()).orElseThrow();
        assertEquals("true", m.get(OutgoingEvents.COMMITTED_MARK));
        assertEquals("true", m.get(CommitRecord.PINNED_METADATA));
        assertThrows(ConflictException.class, () -> ctx.retention.deleteNow(id, false), "pinned needs force");
    }
}
