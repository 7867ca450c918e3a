package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Trainer;
import dev.ckptvault.testing.MutableClock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.retention.RetentionPlannerPropertyTest;
import dev.ckptvault.retention.RetentionPolicy;

/**
 * Seeded random histories against real storage and the real enforcer, with crashes injected
 * between tombstone and deletes (and between files and records): nothing protected is removed,
 * the sweep after a crash leaves no orphan blob, no index row points to a missing blob, and a
 * second sweep changes nothing. Fewer histories than the model test: each one writes real blobs.
 */
class RetentionSweepPropertyTest {
    static final int HISTORIES = 12;
    static final int OPERATIONS = 20;

    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    @Test
    void randomHistoriesWithCrashesNeverLoseAProtectedCheckpointAndConverge() {
        MutableClock clock = new MutableClock(Instant.now());
        // URLs live at most 60 minutes, so runs may set TTLs from 60 (a TTL is never shorter than a URL).
        TestApp ctx = AZURITE.app(Map.of("CKPT_RETENTION_MIN_AGE_MINUTES", "0", "CKPT_URL_MAX_MINUTES", "60"), clock);
        Trainer fixture = new Trainer(ctx);
        Random crashes = new Random(42);
        java.util.concurrent.atomic.AtomicInteger injected = new java.util.concurrent.atomic.AtomicInteger();
        RetentionEnforcer crashing = ctx.enforcer((point, id) -> {
                    if (crashes.nextInt(4) == 0) {
                        injected.incrementAndGet();
                        throw new IllegalStateException("injected crash at " + point + " for " + id);
                    }
                });
        RunRecords runs = new RunRecords(ctx.store, ctx.index, clock);
        RetentionService service = new RetentionService(ctx.sync, ctx.policies, runs, crashing,
                ctx.outgoing, ctx.store, clock);
        Sweeper crashySweeper = new Sweeper(ctx.sync, runs, service);
        int sweeps = 0;
        int deleted = 0;
        for (int seed = 0; seed < HISTORIES; seed++) {
            Random r = new Random(seed);
            String run = "prop-" + seed;
            long step = 0;
            Duration ahead = Duration.ZERO;
            putPolicy(ctx, run, r);
            for (int op = 0; op < OPERATIONS; op++) {
                int kind = r.nextInt(10);
                if (kind < 5) {
                    step += 1 + r.nextInt(3);
                    fixture.commitSmall(run, step, 1 + r.nextInt(2), r.nextBoolean() ? Map.of("loss", (double) r.nextInt(4)) : Map.of());
                } else if (kind == 5) {
                    step += 1;
                    fixture.writeSmall(run, step, 1);
                } else if (kind == 6 && r.nextBoolean()) {
                    putPolicy(ctx, run, r);
                } else if (kind == 6) {
                    // After-commit retention runs in the background; pinning what it is deleting is a 409.
                    assertTrue(ctx.afterCommit.drain(Duration.ofSeconds(60)));
                    List<Checkpoint> committed = ctx.sync.allOfRun(new RunId(run)).stream()
                            .filter(c -> c.state() == CheckpointState.COMMITTED).toList();
                    if (!committed.isEmpty()) {
                        Checkpoint c = committed.get(r.nextInt(committed.size()));
                        ctx.retention.pin(CheckpointId.of(run, c.step()), !c.pinned());
                    }
                } else if (kind == 7) {
                    // Storage stamps blobs with real time: the app's clock runs ahead only during the
                    // next sweeps, or every fresh upload would look abandoned.
                    ahead = ahead.plus(Duration.ofMinutes(r.nextInt(3000)));
                } else {
                    assertTrue(ctx.afterCommit.drain(Duration.ofSeconds(60)));
                    clock.advance(ahead);
                    Set<Long> protectedSteps = protectedSteps(ctx, run);
                    Sweeper.Report crashed = crashySweeper.sweep();
                    sweeps++;
                    deleted += crashed.deleted();
                    assertStillThere(ctx, run, protectedSteps, "seed " + seed + " after a sweep with crashes");
                    Sweeper.Report next = ctx.sweeper.sweep();
                    deleted += next.deleted();
                    assertConsistent(ctx, run, "seed " + seed);
                    assertStillThere(ctx, run, protectedSteps, "seed " + seed + " after the next sweep");
                    assertTrue(ctx.sweeper.sweep().changedNothing(), "seed " + seed + ": a second sweep changed something");
                    clock.advance(ahead.negated());
                    ahead = Duration.ZERO;
                }
            }
        }
        System.out.printf("retention storage property: %d histories, %d sweeps, %d deletions, %d injected crashes%n",
                HISTORIES, sweeps, deleted, injected.get());
        assertTrue(injected.get() > 0, "histories must exercise crashes");
        assertTrue(deleted > HISTORIES, "histories must exercise deletions, got " + deleted);
    }

    static void putPolicy(TestApp ctx, String run, Random r) {
        String body = "{\"retention\":{\"keepLast\":" + (1 + r.nextInt(3)) + ",\"keepEvery\":" + r.nextInt(5)
                + (r.nextInt(3) == 0 ? ",\"keepBest\":{\"metric\":\"loss\",\"mode\":\"min\",\"count\":1}" : "")
                + ",\"incompleteTtlMinutes\":" + (60 + r.nextInt(600)) + "}}";
        var response = ctx.function(PutRunFunction.class).run(
                LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run, Map.of(), body), run);
        assertEquals(200, response.getStatusCode());
    }

    /** The rules, stated independently: latest committed, pinned, keepLast, keepEvery, keepBest. */
    static Set<Long> protectedSteps(TestApp ctx, String run) {
        RetentionPolicy p = ctx.policies.effective(new RunId(run));
        List<Checkpoint> committed = ctx.sync.allOfRun(new RunId(run)).stream()
                .filter(c -> c.state() == CheckpointState.COMMITTED).toList();
        Set<Long> out = new TreeSet<>();
        for (int i = 0; i < committed.size(); i++) {
            Checkpoint c = committed.get(i);
            if (i < p.keepLast() || c.pinned() || (p.keepEvery() > 0 && c.step() % p.keepEvery() == 0)
                    || (p.keepBest() != null && RetentionPlannerPropertyTest.isBest(c, committed, p.keepBest()))) {
                out.add(c.step());
            }
        }
        return out;
    }

    static void assertStillThere(TestApp ctx, String run, Set<Long> steps, String where) {
        for (long s : steps) {
            CheckpointId id = CheckpointId.of(run, s);
            Set<String> blobs = new HashSet<>(ctx.store.list(id.prefix(), false).stream().map(b -> b.name()).toList());
            assertTrue(blobs.contains(id.commitBlob()) && !blobs.contains(id.tombstoneBlob()),
                    where + ": protected step " + s + " lost: " + blobs);
        }
    }

    /** No DELETING left, DELETED means tombstone only, every file an index row names exists. */
    static void assertConsistent(TestApp ctx, String run, String where) {
        for (Checkpoint row : ctx.sync.allOfRun(new RunId(run))) {
            CheckpointId id = CheckpointId.of(run, row.step());
            Set<String> blobs = new HashSet<>(ctx.store.list(id.prefix(), false).stream().map(b -> b.name()).toList());
            assertTrue(row.state() != CheckpointState.DELETING, where + ": step " + row.step() + " left DELETING");
            if (row.state() == CheckpointState.DELETED) {
                assertEquals(Set.of(id.tombstoneBlob()), blobs, where + ": orphan blobs of deleted step " + row.step());
                continue;
            }
            Checkpoint full = ctx.sync.get(id).orElseThrow();
            for (FileEntry f : full.files()) {
                assertTrue(blobs.contains(id.prefix() + f.path()), where + ": index row of step " + row.step()
                        + " names missing blob " + f.path());
            }
        }
    }
}
