package dev.ckptvault.retention;

import dev.ckptvault.checkpoint.CheckpointState;
import java.util.List;
import java.util.Optional;

/**
 * What retention keeps (every rule that keeps it) and removes (why, and how), newest step first.
 * DELETED checkpoints appear in neither list.
 */
public record RetentionPlan(List<Kept> keep, List<Removed> remove) {
    public RetentionPlan {
        keep = List.copyOf(keep);
        remove = List.copyOf(remove);
    }

    public record Kept(long step, CheckpointState state, List<String> reasons) {
        public Kept {
            reasons = List.copyOf(reasons);
            if (reasons.isEmpty()) {
                throw new IllegalArgumentException("a kept checkpoint needs a reason");
            }
        }
    }

    /** @param action "delete" or "cool" (only COMMITTED checkpoints are ever cooled) */
    public record Removed(long step, CheckpointState state, String reason, String action) {
    }

    public Optional<Removed> removal(long step) {
        return remove.stream().filter(r -> r.step() == step).findFirst();
    }

    public Optional<Kept> kept(long step) {
        return keep.stream().filter(k -> k.step() == step).findFirst();
    }
}
