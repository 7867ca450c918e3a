package dev.ckptvault.retention;

import static dev.ckptvault.retention.Checkpoints.T0;
import static dev.ckptvault.retention.Checkpoints.committed;
import static dev.ckptvault.retention.Checkpoints.incomplete;
import static dev.ckptvault.retention.Checkpoints.pinned;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class RetentionPlannerTest {
    static final Instant NOW = T0.plus(Duration.ofDays(10));
    static final Instant LONG_AGO = T0;

    static RetentionPolicy policy(int keepLast, long keepEvery, RetentionPolicy.KeepBest best, int minAge, int ttl,
                                  RetentionPolicy.Action action) {
        return new RetentionPolicy(keepLast, keepEvery, best, minAge, ttl, action);
    }

    static RetentionPolicy keepLast(int n) {
        return policy(n, 0, null, 0, 60, RetentionPolicy.Action.DELETE);
    }

    static List<Long> kept(RetentionPlan p) {
        return p.keep().stream().map(RetentionPlan.Kept::step).toList();
    }

    static List<Long> removed(RetentionPlan p) {
        return p.remove().stream().map(RetentionPlan.Removed::step).toList();
    }

    static List<Checkpoint> committedSteps(long... steps) {
        List<Checkpoint> out = new ArrayList<>();
        for (long s : steps) {
            out.add(committed(s, LONG_AGO.plusSeconds(s)));
        }
        return out;
    }

    @Test
    void anEmptyRunPlansNothing() {
        RetentionPlan p = RetentionPlanner.plan(List.of(), keepLast(3), NOW);
        assertTrue(p.keep().isEmpty());
        assertTrue(p.remove().isEmpty());
    }

    @Test
    void keepLastKeepsTheNewestCommittedAndRemovesTheRestNewestFirst() {
        RetentionPlan p = RetentionPlanner.plan(committedSteps(10, 20, 30, 40, 50), keepLast(2), NOW);
        assertEquals(List.of(50L, 40L), kept(p));
        assertEquals(List.of(30L, 20L, 10L), removed(p));
        assertEquals(List.of("latest", "keepLast 2 (#1 newest committed)"), p.kept(50).orElseThrow().reasons());
        assertTrue(p.removal(30).orElseThrow().reason().startsWith("committed, kept by no rule (keepLast 2"));
        assertEquals("delete", p.removal(30).orElseThrow().action());
    }

    @Test
    void inputOrderDoesNotMatter() {
        List<Checkpoint> list = committedSteps(1, 2, 3, 4, 5, 6, 7, 8);
        RetentionPlan expected = RetentionPlanner.plan(list, keepLast(3), NOW);
        List<Checkpoint> shuffled = new ArrayList<>(list);
        Collections.shuffle(shuffled, new Random(7));
        assertEquals(expected, RetentionPlanner.plan(shuffled, keepLast(3), NOW));
    }

    @Test
    void keepLastCountsOnlyCommittedCheckpoints() {
        List<Checkpoint> list = new ArrayList<>(committedSteps(10, 20, 30));
        list.add(incomplete(40, CheckpointState.UPLOADING, NOW.minusSeconds(5)));
        list.add(incomplete(50, CheckpointState.COMMITTING, NOW.minusSeconds(5)));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(2), NOW);
        assertEquals(List.of(50L, 40L, 30L, 20L), kept(p));
        assertEquals(List.of(10L), removed(p));
        assertTrue(p.kept(30).orElseThrow().reasons().contains("latest"), "an upload in progress is not the latest");
    }

    @Test
    void theNewestCommittedIsKeptEvenWhenItIsOldAndNoOtherRuleKeepsIt() {
        List<Checkpoint> list = List.of(committed(100, LONG_AGO),
                incomplete(200, CheckpointState.ABANDONED, LONG_AGO), incomplete(300, CheckpointState.FAILED, LONG_AGO));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(1), NOW);
        assertEquals(List.of(100L), kept(p));
        assertEquals(List.of(300L, 200L), removed(p));
    }

    @ParameterizedTest
    @EnumSource(value = CheckpointState.class, names = {"FAILED", "TAMPERED"})
    void failedAndTamperedNeverCountAsLatest(CheckpointState state) {
        List<Checkpoint> list = List.of(incomplete(500, state, NOW.minusSeconds(60)), committed(400, LONG_AGO),
                committed(300, LONG_AGO));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(1), NOW);
        assertEquals(List.of("latest", "keepLast 1 (#1 newest committed)"), p.kept(400).orElseThrow().reasons());
        assertEquals(List.of(300L), removed(p));
        assertTrue(p.kept(500).orElseThrow().reasons().get(0).startsWith(state + ", last activity"));
    }

    @Test
    void keepEveryKeepsMultiplesOfK() {
        RetentionPlan p = RetentionPlanner.plan(committedSteps(5, 7, 10, 14, 15, 20, 21),
                policy(1, 5, null, 0, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(21L, 20L, 15L, 10L, 5L), kept(p));
        assertEquals(List.of(14L, 7L), removed(p));
        assertEquals(List.of("keepEvery 5"), p.kept(20).orElseThrow().reasons());
    }

    @Test
    void everyRuleThatKeepsACheckpointIsListed() {
        List<Checkpoint> list = List.of(committed(20, NOW.minusSeconds(30), Map.of("loss", 0.1)),
                committed(10, LONG_AGO, Map.of("loss", 0.5)));
        RetentionPlan p = RetentionPlanner.plan(list, policy(2, 10,
                new RetentionPolicy.KeepBest("loss", RetentionPolicy.Mode.MIN, 1), 5, 60, RetentionPolicy.Action.DELETE),
                NOW);
        assertEquals(List.of("latest", "keepLast 2 (#1 newest committed)", "keepEvery 10",
                "minAgeMinutes 5 (committed " + NOW.minusSeconds(30) + ")", "keepBest loss min 1 (#1, loss=0.1)"),
                p.kept(20).orElseThrow().reasons());
        assertEquals(List.of("keepLast 2 (#2 newest committed)", "keepEvery 10"), p.kept(10).orElseThrow().reasons());
    }

    @Test
    void keepBestKeepsTheLowestOrHighestValues() {
        List<Checkpoint> list = List.of(committed(50, LONG_AGO, Map.of("acc", 0.5)), committed(40, LONG_AGO, Map.of("acc", 0.9)),
                committed(30, LONG_AGO, Map.of("acc", 0.7)), committed(20, LONG_AGO, Map.of("acc", 0.1)),
                committed(10, LONG_AGO, Map.of("acc", 0.8)));
        RetentionPlan max = RetentionPlanner.plan(list, policy(1, 0,
                new RetentionPolicy.KeepBest("acc", RetentionPolicy.Mode.MAX, 2), 0, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(50L, 40L, 10L), kept(max));
        RetentionPlan min = RetentionPlanner.plan(list, policy(1, 0,
                new RetentionPolicy.KeepBest("acc", RetentionPolicy.Mode.MIN, 2), 0, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(50L, 20L), kept(min));
        assertEquals(List.of("keepBest acc min 2 (#1, acc=0.1)"), min.kept(20).orElseThrow().reasons());
    }

    @Test
    void keepBestKeepsEveryCheckpointTiedAtTheCut() {
        List<Checkpoint> list = List.of(committed(40, LONG_AGO, Map.of("loss", 3.0)), committed(30, LONG_AGO, Map.of("loss", 2.0)),
                committed(20, LONG_AGO, Map.of("loss", 2.0)), committed(10, LONG_AGO, Map.of("loss", 1.0)));
        RetentionPlan p = RetentionPlanner.plan(list, policy(1, 0,
                new RetentionPolicy.KeepBest("loss", RetentionPolicy.Mode.MIN, 2), 0, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(40L, 30L, 20L, 10L), kept(p));
        assertTrue(p.kept(20).orElseThrow().reasons().get(0).contains("tied with #2")
                || p.kept(30).orElseThrow().reasons().get(0).contains("tied with #2"));
    }

    @Test
    void aCheckpointWithoutTheMetricIsKeptAsUnsure() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO, Map.of("loss", 3.0)), committed(20, LONG_AGO, Map.of()),
                committed(10, LONG_AGO, Map.of("loss", 5.0)));
        RetentionPlan p = RetentionPlanner.plan(list, policy(1, 0,
                new RetentionPolicy.KeepBest("loss", RetentionPolicy.Mode.MIN, 1), 0, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(30L, 20L), kept(p));
        assertEquals(List.of(10L), removed(p));
        assertTrue(p.kept(20).orElseThrow().reasons().get(0).startsWith("unsure: metric 'loss' missing"));
    }

    @Test
    void minAgeProtectsRecentlyCommittedCheckpoints() {
        List<Checkpoint> list = List.of(committed(30, NOW.minusSeconds(60)), committed(20, NOW.minus(Duration.ofMinutes(9))),
                committed(10, NOW.minus(Duration.ofMinutes(10))));
        RetentionPlan p = RetentionPlanner.plan(list, policy(1, 0, null, 10, 60, RetentionPolicy.Action.DELETE), NOW);
        assertEquals(List.of(30L, 20L), kept(p));
        assertEquals(List.of(10L), removed(p), "exactly minAge old is no longer protected");
    }

    @Test
    void aCommittedCheckpointWithoutCommitTimeIsKeptAsUnsure() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO),
                Checkpoints.of(20, CheckpointState.COMMITTED, null, LONG_AGO, false, Map.of()));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(1), NOW);
        assertEquals(List.of("unsure: no commit time, so its age is unknown"), p.kept(20).orElseThrow().reasons());
    }

    @Test
    void pinnedCheckpointsAreAlwaysKept() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO), pinned(20, LONG_AGO), committed(10, LONG_AGO),
                Checkpoints.of(5, CheckpointState.TAMPERED, LONG_AGO, LONG_AGO, true, Map.of()));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(1), NOW);
        assertEquals(List.of(30L, 20L, 5L), kept(p));
        assertEquals(List.of("pinned"), p.kept(20).orElseThrow().reasons());
        assertEquals(List.of("pinned"), p.kept(5).orElseThrow().reasons());
    }

    @ParameterizedTest
    @EnumSource(value = CheckpointState.class, names = {"UPLOADING", "COMMITTING", "ABANDONED", "FAILED", "TAMPERED"})
    void uncommittedCheckpointsAreRemovedOnlyAfterTheirTtl(CheckpointState state) {
        RetentionPolicy p = keepLast(1);
        List<Checkpoint> young = List.of(committed(1, LONG_AGO), incomplete(2, state, NOW.minus(Duration.ofMinutes(59))));
        assertEquals(List.of(2L, 1L), kept(RetentionPlanner.plan(young, p, NOW)));
        List<Checkpoint> old = List.of(committed(1, LONG_AGO), incomplete(2, state, NOW.minus(Duration.ofMinutes(60))));
        RetentionPlan plan = RetentionPlanner.plan(old, p, NOW);
        assertEquals(List.of(2L), removed(plan));
        assertEquals("delete", plan.removal(2).orElseThrow().action());
        assertTrue(plan.removal(2).orElseThrow().reason().startsWith(state + ", no activity since"));
    }

    @Test
    void anUncommittedCheckpointWithoutActivityTimeIsKeptAsUnsure() {
        RetentionPlan p = RetentionPlanner.plan(List.of(incomplete(2, CheckpointState.UPLOADING, null)), keepLast(1), NOW);
        assertEquals(List.of("unsure: no last activity recorded"), p.kept(2).orElseThrow().reasons());
    }

    @Test
    void deletingIsAlwaysFinishedAndDeletedIsIgnored() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO),
                Checkpoints.of(20, CheckpointState.DELETING, LONG_AGO, NOW, false, Map.of()),
                Checkpoints.of(10, CheckpointState.DELETED, null, LONG_AGO, false, Map.of()));
        RetentionPlan p = RetentionPlanner.plan(list, policy(100, 10, null, 100_000, 100_000, RetentionPolicy.Action.COOL), NOW);
        assertEquals(List.of(30L), kept(p));
        assertEquals(List.of(20L), removed(p));
        assertEquals("delete", p.removal(20).orElseThrow().action());
    }

    @Test
    void actionCoolAppliesToCommittedOnlyIncompleteOnesAreDeleted() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO), committed(20, LONG_AGO),
                incomplete(10, CheckpointState.ABANDONED, LONG_AGO));
        RetentionPlan p = RetentionPlanner.plan(list, policy(1, 0, null, 0, 60, RetentionPolicy.Action.COOL), NOW);
        assertEquals("cool", p.removal(20).orElseThrow().action());
        assertEquals("delete", p.removal(10).orElseThrow().action());
    }

    @Test
    void duplicateRowsForOneStepAreKeptAsUnsure() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO), committed(20, LONG_AGO),
                incomplete(20, CheckpointState.ABANDONED, LONG_AGO));
        RetentionPlan p = RetentionPlanner.plan(list, keepLast(1), NOW);
        assertEquals(List.of(30L, 20L, 20L), kept(p));
        assertTrue(p.keep().get(1).reasons().get(0).startsWith("unsure: the index has 2 rows"));
    }

    @Test
    void anUnusablePolicyKeepsEverythingButStillFinishesDeletions() {
        List<Checkpoint> list = List.of(committed(30, LONG_AGO), committed(20, LONG_AGO),
                Checkpoints.of(10, CheckpointState.DELETING, LONG_AGO, LONG_AGO, false, Map.of()));
        RetentionPlan p = RetentionPlanner.keepAll(list, "the stored policy is invalid");
        assertEquals(List.of(30L, 20L), kept(p));
        assertEquals(List.of(10L), removed(p));
        assertEquals(List.of("unsure: the stored policy is invalid"), p.kept(20).orElseThrow().reasons());
    }
}
