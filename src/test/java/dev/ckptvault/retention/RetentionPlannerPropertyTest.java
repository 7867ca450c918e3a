package dev.ckptvault.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Many seeded random histories (commits, uploads, failures, tampering, pins, policy changes,
 * clock advances, sweeps with crashes between tombstone and delete) against a model of storage.
 * After every sweep: nothing the rules protect was removed, the plan is exactly the rules' answer,
 * a second sweep changes nothing, and a crashed deletion is finished by the next sweep. The
 * storage-level version of this test (real blobs, real enforcer) is {@code RetentionSweepPropertyTest}.
 */
public class RetentionPlannerPropertyTest {
    static final int HISTORIES = 5_000;
    static final int OPERATIONS = 60;

    /** A checkpoint in the model of storage. */
    static final class M {
        final long step;
        CheckpointState state;
        Instant committedAt;
        Instant lastActivity;
        boolean pinned;
        Map<String, Double> metrics = Map.of();
        boolean tombstone;
        boolean blobsLeft;
        boolean cool;

        M(long step) {
            this.step = step;
        }

        Checkpoint view(Instant now, RetentionPolicy p) {
            CheckpointState s = state;
            if (tombstone) {
                s = blobsLeft ? CheckpointState.DELETING : CheckpointState.DELETED;
            } else if ((s == CheckpointState.UPLOADING || s == CheckpointState.COMMITTING)
                    && !lastActivity.plus(Duration.ofMinutes(p.incompleteTtlMinutes())).isAfter(now)) {
                s = CheckpointState.ABANDONED;
            }
            return new Checkpoint("run", step, s, cool ? "cool" : "hot", List.of(), List.of(), List.of(), 0, metrics,
                    pinned, lastActivity, committedAt, lastActivity);
        }
    }

    @Test
    void noProtectedCheckpointIsEverRemovedAndSweepsConverge() {
        int sweeps = 0;
        int removals = 0;
        int crashes = 0;
        for (int seed = 0; seed < HISTORIES; seed++) {
            int[] counts = history(seed);
            sweeps += counts[0];
            removals += counts[1];
            crashes += counts[2];
        }
        System.out.printf("retention property: %d histories, %d sweeps, %d removals, %d injected crashes%n",
                HISTORIES, sweeps, removals, crashes);
        assertTrue(removals > HISTORIES, "histories must exercise removals, got " + removals);
        assertTrue(crashes > HISTORIES / 10, "histories must exercise crashes, got " + crashes);
    }

    static RetentionPolicy randomPolicy(Random r) {
        RetentionPolicy.KeepBest best = r.nextInt(3) == 0
                ? new RetentionPolicy.KeepBest(r.nextBoolean() ? "loss" : "acc",
                        r.nextBoolean() ? RetentionPolicy.Mode.MIN : RetentionPolicy.Mode.MAX, 1 + r.nextInt(3))
                : null;
        return new RetentionPolicy(1 + r.nextInt(4), r.nextInt(3) == 0 ? 0 : 1 + r.nextInt(6), best, r.nextInt(30),
                1 + r.nextInt(120), r.nextInt(4) == 0 ? RetentionPolicy.Action.COOL : RetentionPolicy.Action.DELETE);
    }

    /** @return {sweeps, removals, crashes} */
    static int[] history(long seed) {
        Random r = new Random(seed);
        TreeMap<Long, M> storage = new TreeMap<>();
        RetentionPolicy policy = randomPolicy(r);
        Instant now = Instant.parse("2026-11-01T00:00:00Z");
        long nextStep = 0;
        int sweeps = 0;
        int removals = 0;
        int crashes = 0;
        for (int op = 0; op < OPERATIONS; op++) {
            int kind = r.nextInt(100);
            if (kind < 25) { // a checkpoint commits
                nextStep += 1 + r.nextInt(3);
                M m = new M(nextStep);
                m.state = CheckpointState.COMMITTED;
                m.committedAt = now;
                m.lastActivity = now;
                if (r.nextInt(10) > 0) {
                    m.metrics = Map.of("loss", (double) r.nextInt(6), "acc", (double) r.nextInt(6));
                }
                storage.put(m.step, m);
            } else if (kind < 35) { // an upload starts (and may never finish)
                nextStep += 1 + r.nextInt(3);
                M m = new M(nextStep);
                m.state = CheckpointState.UPLOADING;
                m.lastActivity = now;
                storage.put(m.step, m);
            } else if (kind < 45) { // an upload makes progress: manifest, commit, or an invalid manifest
                pick(r, storage, CheckpointState.UPLOADING, CheckpointState.COMMITTING).ifPresent(m -> {
                    int what = r.nextInt(3);
                    m.state = what == 0 ? CheckpointState.COMMITTING
                            : what == 1 ? CheckpointState.COMMITTED : CheckpointState.FAILED;
                    m.lastActivity = nowOf(r, m);
                });
                storage.values().stream().filter(m -> m.state == CheckpointState.COMMITTED && m.committedAt == null)
                        .forEach(m -> m.committedAt = m.lastActivity);
            } else if (kind < 50) { // a committed file is changed behind the app's back
                pick(r, storage, CheckpointState.COMMITTED).ifPresent(m -> {
                    m.state = CheckpointState.TAMPERED;
                    m.lastActivity = m.lastActivity.plusSeconds(1);
                });
            } else if (kind < 60) { // pin or unpin
                pick(r, storage, CheckpointState.COMMITTED, CheckpointState.TAMPERED).ifPresent(m -> {
                    if (m.state == CheckpointState.COMMITTED || m.pinned) {
                        m.pinned = !m.pinned;
                    }
                });
            } else if (kind < 65) {
                policy = randomPolicy(r);
            } else if (kind < 85) {
                now = now.plus(Duration.ofMinutes(r.nextInt(3) == 0 ? r.nextInt(300) : r.nextInt(20)));
            } else {
                sweeps++;
                int[] rc = sweep(seed, r, storage, policy, now, true);
                removals += rc[0];
                crashes += rc[1];
                // A second sweep right after changes nothing, unless it finishes a crashed deletion.
                int[] again = sweep(seed, r, storage, policy, now, false);
                if (rc[1] == 0) {
                    assertEquals(0, again[0], "seed " + seed + ": a second sweep changed something");
                }
                assertTrue(storage.values().stream().noneMatch(m -> m.tombstone && m.blobsLeft),
                        "seed " + seed + ": a deletion was left half done after the next sweep");
            }
            // Activity timestamps in the model follow the clock.
            final Instant t = now;
            storage.values().forEach(m -> {
                if (m.lastActivity.isAfter(t)) {
                    m.lastActivity = t;
                }
            });
        }
        return new int[] {sweeps, removals, crashes};
    }

    private static Instant nowOf(Random r, M m) {
        return m.lastActivity.plusSeconds(r.nextInt(60));
    }

    @SafeVarargs
    private static java.util.Optional<M> pick(Random r, TreeMap<Long, M> storage, CheckpointState... states) {
        List<M> candidates = new ArrayList<>();
        for (M m : storage.values()) {
            if (!m.tombstone && List.of(states).contains(m.state)) {
                candidates.add(m);
            }
        }
        return candidates.isEmpty() ? java.util.Optional.empty()
                : java.util.Optional.of(candidates.get(r.nextInt(candidates.size())));
    }

    /** Plans, checks the plan against the rules, and applies it to the model. @return {changes, crashes} */
    static int[] sweep(long seed, Random r, TreeMap<Long, M> storage, RetentionPolicy policy, Instant now,
                       boolean mayCrash) {
        List<Checkpoint> view = storage.descendingMap().values().stream().map(m -> m.view(now, policy)).toList();
        RetentionPlan plan = RetentionPlanner.plan(view, policy, now);
        checkAgainstRules(seed, view, policy, now, plan);
        int changes = 0;
        int crashes = 0;
        for (RetentionPlan.Removed rm : plan.remove()) {
            M m = storage.get(rm.step());
            if (rm.action().equals("cool")) {
                if (!m.cool) {
                    m.cool = true;
                    changes++;
                }
                continue;
            }
            changes++;
            m.tombstone = true;
            if (mayCrash && r.nextInt(6) == 0) {
                m.blobsLeft = true; // crashed between the tombstone and (some of) the deletes
                crashes++;
            } else {
                m.blobsLeft = false;
            }
        }
        return new int[] {changes, crashes};
    }

    /** The rules, stated independently of the planner, must give exactly the plan's answer. */
    static void checkAgainstRules(long seed, List<Checkpoint> view, RetentionPolicy p, Instant now, RetentionPlan plan) {
        List<Checkpoint> committed = view.stream().filter(c -> c.state() == CheckpointState.COMMITTED).toList();
        for (Checkpoint c : view) {
            boolean inKeep = plan.kept(c.step()).isPresent();
            boolean inRemove = plan.removal(c.step()).isPresent();
            if (c.state() == CheckpointState.DELETED) {
                assertTrue(!inKeep && !inRemove, "seed " + seed + ": DELETED step " + c.step() + " is planned");
                continue;
            }
            if (c.state() == CheckpointState.DELETING) {
                assertTrue(inRemove && !inKeep, "seed " + seed + ": DELETING step " + c.step() + " not finished");
                continue;
            }
            boolean mustKeep = c.pinned();
            if (c.state() == CheckpointState.COMMITTED) {
                int rank = committed.indexOf(c);
                mustKeep |= rank == 0;
                mustKeep |= rank < p.keepLast();
                mustKeep |= p.keepEvery() > 0 && c.step() % p.keepEvery() == 0;
                mustKeep |= c.committedAt().plus(Duration.ofMinutes(p.minAgeMinutes())).isAfter(now);
                mustKeep |= p.keepBest() != null && isBest(c, committed, p.keepBest());
            } else {
                mustKeep |= c.lastActivityAt().plus(Duration.ofMinutes(p.incompleteTtlMinutes())).isAfter(now);
            }
            if (mustKeep && inRemove) {
                fail("seed " + seed + ": step " + c.step() + " (" + c.state() + ") must be kept but is removed: "
                        + plan.removal(c.step()).orElseThrow().reason());
            }
            assertTrue(inKeep != inRemove, "seed " + seed + ": step " + c.step() + " is in both or neither list");
            assertEquals(mustKeep, inKeep, "seed " + seed + ": step " + c.step() + " kept=" + inKeep);
        }
    }

    /** Among the best {@code count} values (ties at the cut included), or unrankable. */
    public static boolean isBest(Checkpoint c, List<Checkpoint> committed, RetentionPolicy.KeepBest best) {
        Double mine = c.metrics().get(best.metric());
        if (mine == null) {
            return true;
        }
        long better = committed.stream().map(o -> o.metrics().get(best.metric())).filter(v -> v != null)
                .filter(v -> best.mode() == RetentionPolicy.Mode.MIN ? v < mine : v > mine).count();
        return better < best.count();
    }
}
