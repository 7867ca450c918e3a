package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.functions.PinFunction;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two app instances enforce retention on one run. A pin acknowledged (200) before the tombstone
 * was written must hold, whichever instance goes on to finish the deletion: the one that wrote the
 * tombstone, or another that heard of it from the tombstone's blob event. Interleaved with the
 * enforcer's fault points, so every run takes the same path.
 */
class TwoEnforcersTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp a;
    static TestApp b;

    @BeforeAll
    static void setUp() {
        Map<String, String> settings = Map.of("CKPT_RETENTION_MIN_AGE_MINUTES", "0");
        a = AZURITE.app(settings, Clock.systemUTC());
        b = AZURITE.app(settings, Clock.systemUTC());
    }

    @AfterAll
    static void tearDown() {
        a.close();
        b.close();
    }

    static void putPolicy(TestApp app, String run, String retention) {
        var r = app.function(PutRunFunction.class).run(LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run,
                Map.of(), "{\"retention\":" + retention + "}"), run);
        assertEquals(200, r.getStatusCode());
    }

    static LocalHttpResponse pin(TestApp app, CheckpointId id) {
        String run = id.run().value();
        String step = Long.toString(id.step().value());
        return (LocalHttpResponse) app.function(PinFunction.class).run(LocalHttpRequest.of(HttpMethod.PUT,
                "/api/runs/" + run + "/checkpoints/" + step + "/pin", Map.of(), null), run, step);
    }

    /** Steps 1 and 2 committed under keepLast 2, then keepLast 1: step 1 is what retention removes next. */
    static CheckpointId twoCommitted(String run) {
        putPolicy(a, run, "{\"keepLast\":2}");
        Trainer t = new Trainer(a);
        t.commitSmall(run, 1, 2, Map.of());
        t.commitSmall(run, 2, 2, Map.of());
        assertTrue(a.afterCommit.drain(Duration.ofSeconds(60)));
        putPolicy(a, run, "{\"keepLast\":1}");
        return CheckpointId.of(run, 1);
    }

    static RetentionService retentionWith(TestApp app, RetentionEnforcer.Faults faults) {
        return new RetentionService(app.sync, app.policies, app.runs, app.enforcer(faults), app.outgoing, app.store,
                app.clock);
    }

    static void assertPinHeld(CheckpointId id) {
        Set<String> blobs = a.store.list(id.prefix(), false).stream().map(StoredBlob::name).collect(Collectors.toSet());
        assertTrue(blobs.contains(id.commitBlob()) && blobs.contains(id.prefix() + "rank-0/shard.bin")
                && blobs.contains(id.prefix() + "rank-1/shard.bin") && !blobs.contains(id.tombstoneBlob()),
                "the pinned checkpoint was deleted: " + blobs);
        assertEquals("true", a.store.metadata(id.commitBlob()).orElseThrow().get(CommitRecord.PINNED_METADATA));
        assertEquals(CheckpointState.COMMITTED, a.sync.refresh(id).state());
        assertTrue(a.sync.get(id).orElseThrow().pinned());
    }

    @Test
    void aPinAcknowledgedBeforeTheTombstoneHoldsWhenAnotherInstanceFinishesTheDeletion() {
        CheckpointId id = twoCommitted("two-enforcers-other");
        List<String> trace = new ArrayList<>();
        RetentionService aRetention = retentionWith(a, (point, at) -> {
            if (!at.equals(id)) {
                return;
            }
            trace.add(point);
            if (point.equals(RetentionEnforcer.BEFORE_TOMBSTONE)) {
                // A re-read step 1 (not pinned) and is about to write the tombstone: an admin pins it through B.
                LocalHttpResponse r = pin(b, id);
                assertEquals(200, r.getStatusCode(), r.bodyText());
            } else if (point.equals(RetentionEnforcer.TOMBSTONE_WRITTEN)) {
                // B hears of the tombstone from its blob event, then B's sweep finishes what it sees as DELETING.
                new Trainer(b).deliverCreated(id.tombstoneBlob(), EventSamples.Schema.EVENT_GRID);
                b.sweeper.sweep();
            }
        });
        aRetention.enforce(id.run());

        assertTrue(trace.contains(RetentionEnforcer.TOMBSTONE_WRITTEN), "the interleaving happened: " + trace);
        assertPinHeld(id);
        b.sweeper.sweep();
        a.sweeper.sweep();
        assertPinHeld(id);
    }

    @Test
    void aPinAcknowledgedBeforeTheTombstoneHoldsWhenTheWriterStopsAndAnotherInstanceFinishes() {
        CheckpointId id = twoCommitted("two-enforcers-crash");
        RetentionService bRetention = retentionWith(b, (point, at) -> {
            if (!at.equals(id)) {
                return;
            }
            if (point.equals(RetentionEnforcer.BEFORE_TOMBSTONE)) {
                LocalHttpResponse r = pin(a, id);
                assertEquals(200, r.getStatusCode(), r.bodyText());
            } else if (point.equals(RetentionEnforcer.TOMBSTONE_WRITTEN)) {
                throw new IllegalStateException("instance B stops right after writing the tombstone");
            }
        });
        RetentionService.RunResult stopped = bRetention.enforce(id.run());
        assertEquals(1, stopped.failures(), stopped.toString());

        new Trainer(a).deliverCreated(id.tombstoneBlob(), EventSamples.Schema.CLOUD_EVENTS);
        a.sweeper.sweep();
        assertPinHeld(id);
        b.sweeper.sweep();
        assertPinHeld(id);
    }

    @Test
    void aPinAfterTheTombstoneIsRefusedAndTheDeletionGoesOn() {
        CheckpointId id = twoCommitted("two-enforcers-late-pin");
        List<Integer> pinStatus = new ArrayList<>();
        RetentionService aRetention = retentionWith(a, (point, at) -> {
            if (at.equals(id) && point.equals(RetentionEnforcer.TOMBSTONE_WRITTEN)) {
                pinStatus.add(pin(b, id).getStatusCode());
            }
        });
        aRetention.enforce(id.run());
        assertEquals(List.of(409), pinStatus, "a pin that sees the tombstone is refused");
        assertEquals(List.of(id.tombstoneBlob()), a.store.list(id.prefix(), false).stream().map(StoredBlob::name)
                .toList(), "refused pins do not stop the deletion");
        assertEquals(CheckpointState.DELETED, a.sync.get(id).orElseThrow().state());
    }
}
