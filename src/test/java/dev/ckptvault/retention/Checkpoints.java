package dev.ckptvault.retention;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Checkpoint rows for planner tests: only what the planner reads is varied. */
final class Checkpoints {
    static final Instant T0 = Instant.parse("2026-11-01T00:00:00Z");

    private Checkpoints() {
    }

    static Checkpoint committed(long step, Instant committedAt) {
        return of(step, CheckpointState.COMMITTED, committedAt, committedAt, false, Map.of());
    }

    static Checkpoint committed(long step, Instant committedAt, Map<String, Double> metrics) {
        return of(step, CheckpointState.COMMITTED, committedAt, committedAt, false, metrics);
    }

    static Checkpoint pinned(long step, Instant committedAt) {
        return of(step, CheckpointState.COMMITTED, committedAt, committedAt, true, Map.of());
    }

    static Checkpoint incomplete(long step, CheckpointState state, Instant lastActivity) {
        boolean hadCommit = state == CheckpointState.TAMPERED;
        return of(step, state, hadCommit ? lastActivity : null, lastActivity, false, Map.of());
    }

    static Checkpoint of(long step, CheckpointState state, Instant committedAt, Instant lastActivity, boolean pinned,
                         Map<String, Double> metrics) {
        return new Checkpoint("run", step, state, "hot", List.of(), List.of(), List.of(), 0, metrics, pinned,
                lastActivity, committedAt, lastActivity);
    }
}
