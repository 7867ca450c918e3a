package dev.ckptvault.retention;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides, without touching anything, what a run keeps and removes. Pure: the same checkpoints,
 * policy and time always give the same plan.
 *
 * <p>Rules (the union of keep rules wins; anything unsure is kept, with the reason):
 * <ul>
 *   <li>the newest COMMITTED checkpoint ({@code latest}) and every pinned one are always kept;
 *   <li>COMMITTED: {@code keepLast}, {@code keepEvery}, {@code keepBest} and {@code minAge} keep;
 *       otherwise removed with the policy's action (delete or cool);
 *   <li>UPLOADING, COMMITTING, ABANDONED, FAILED, TAMPERED: kept until the last activity is older
 *       than {@code incompleteTtlMinutes}, then deleted (never cooled); they never count as latest;
 *   <li>DELETING: always removed (the deletion began; finishing it is the only safe direction);
 *   <li>DELETED: ignored.
 * </ul>
 */
public final class RetentionPlanner {
    public static final String LATEST = "latest";
    public static final String PINNED = "pinned";
    private static final String KEEP_LAST = "keepLast ";
    private static final String KEEP_BEST = "keepBest ";

    private RetentionPlanner() {
    }

    public static RetentionPlan plan(List<Checkpoint> checkpoints, RetentionPolicy policy, Instant now) {
        List<Checkpoint> newestFirst = new ArrayList<>(checkpoints);
        newestFirst.sort(Comparator.comparingLong(Checkpoint::step).reversed());

        Map<Long, Integer> rowsPerStep = new HashMap<>();
        newestFirst.forEach(c -> rowsPerStep.merge(c.step(), 1, Integer::sum));

        List<Checkpoint> committed = newestFirst.stream().filter(c -> c.state() == CheckpointState.COMMITTED).toList();
        // Identity, not equality: duplicate rows for one step must not share their reasons.
        Map<Checkpoint, List<String>> reasons = new IdentityHashMap<>();
        for (Checkpoint c : newestFirst) {
            reasons.put(c, new ArrayList<>());
        }
        for (int i = 0; i < committed.size(); i++) {
            Checkpoint c = committed.get(i);
            List<String> why = reasons.get(c);
            if (i == 0) {
                why.add(LATEST);
            }
            if (i < policy.keepLast()) {
                why.add(KEEP_LAST + policy.keepLast() + " (#" + (i + 1) + " newest committed)");
            }
            if (policy.keepEvery() > 0 && c.step() % policy.keepEvery() == 0) {
                why.add("keepEvery " + policy.keepEvery());
            }
            if (c.committedAt() == null) {
                why.add("unsure: no commit time, so its age is unknown");
            } else if (Duration.between(c.committedAt(), now).compareTo(Duration.ofMinutes(policy.minAgeMinutes())) < 0) {
                why.add("minAgeMinutes " + policy.minAgeMinutes() + " (committed " + c.committedAt() + ")");
            }
        }
        if (policy.keepBest() != null) {
            keepBest(committed, policy.keepBest(), reasons);
        }

        List<RetentionPlan.Kept> keep = new ArrayList<>();
        List<RetentionPlan.Removed> remove = new ArrayList<>();
        Duration ttl = Duration.ofMinutes(policy.incompleteTtlMinutes());
        for (Checkpoint c : newestFirst) {
            List<String> why = reasons.get(c);
            CheckpointState s = c.state();
            if (s == CheckpointState.DELETED) {
                continue;
            }
            if (s == CheckpointState.DELETING) {
                remove.add(new RetentionPlan.Removed(c.step(), s, "deletion in progress (tombstone written): finish it",
                        RetentionPolicy.Action.DELETE.json()));
                continue;
            }
            if (c.pinned()) {
                why.add(0, PINNED);
            }
            if (rowsPerStep.get(c.step()) > 1) {
                why.add("unsure: the index has " + rowsPerStep.get(c.step()) + " rows for this step");
            }
            if (s == CheckpointState.COMMITTED) {
                if (why.isEmpty()) {
                    remove.add(new RetentionPlan.Removed(c.step(), s, "committed, kept by no rule ("
                            + describe(policy) + ")", policy.action().json()));
                } else {
                    keep.add(new RetentionPlan.Kept(c.step(), s, why));
                }
                continue;
            }
            // Uncommitted (or unusable) checkpoints: only the TTL since the last activity can release them.
            if (c.lastActivityAt() == null) {
                why.add("unsure: no last activity recorded");
            } else {
                Duration idle = Duration.between(c.lastActivityAt(), now);
                if (idle.compareTo(ttl) < 0) {
                    why.add(s.name() + ", last activity " + c.lastActivityAt() + " is younger than incompleteTtlMinutes "
                            + policy.incompleteTtlMinutes());
                }
            }
            if (why.isEmpty()) {
                remove.add(new RetentionPlan.Removed(c.step(), s, s.name() + ", no activity since "
                        + c.lastActivityAt() + " (incompleteTtlMinutes " + policy.incompleteTtlMinutes() + ")",
                        RetentionPolicy.Action.DELETE.json()));
            } else {
                keep.add(new RetentionPlan.Kept(c.step(), s, why));
            }
        }
        return new RetentionPlan(keep, remove);
    }

    /**
     * The best {@code count} by the metric. Checkpoints without the metric cannot be ranked and
     * are kept; ties at the cut are all kept (which of equals is "best" would be arbitrary).
     */
    private static void keepBest(List<Checkpoint> committed, RetentionPolicy.KeepBest best,
                                 Map<Checkpoint, List<String>> reasons) {
        String rule = KEEP_BEST + best.metric() + " " + best.mode().json() + " " + best.count();
        List<Checkpoint> ranked = new ArrayList<>();
        for (Checkpoint c : committed) {
            Double v = c.metrics().get(best.metric());
            if (v == null || v.isNaN() || v.isInfinite()) {
                reasons.get(c).add("unsure: metric '" + best.metric() + "' missing, cannot rank for " + rule);
            } else {
                ranked.add(c);
            }
        }
        Comparator<Checkpoint> byValue = Comparator.comparingDouble(c -> c.metrics().get(best.metric()));
        ranked.sort(best.mode() == RetentionPolicy.Mode.MIN ? byValue : byValue.reversed());
        if (ranked.isEmpty()) {
            return;
        }
        double cut = ranked.get(Math.min(best.count(), ranked.size()) - 1).metrics().get(best.metric());
        for (int i = 0; i < ranked.size(); i++) {
            Checkpoint c = ranked.get(i);
            double v = c.metrics().get(best.metric());
            if (i < best.count()) {
                reasons.get(c).add(rule + " (#" + (i + 1) + ", " + best.metric() + "=" + v + ")");
            } else if (v == cut) {
                reasons.get(c).add(rule + " (tied with #" + best.count() + ", " + best.metric() + "=" + v + ")");
            }
        }
    }

    /**
     * Whether a checkpoint is kept by a rule that ranks the committed checkpoints against each
     * other (latest, keepLast, keepBest): its being COMMITTED is what lets the plan remove the
     * ones ranked below it. keepEvery, minAge and pins keep one checkpoint without removing any.
     */
    public static boolean ranksOthers(RetentionPlan.Kept kept) {
        return kept.state() == CheckpointState.COMMITTED && kept.reasons().stream()
                .anyMatch(r -> r.equals(LATEST) || r.startsWith(KEEP_LAST) || r.startsWith(KEEP_BEST));
    }

    private static String describe(RetentionPolicy p) {
        StringBuilder b = new StringBuilder("keepLast ").append(p.keepLast());
        if (p.keepEvery() > 0) {
            b.append(", keepEvery ").append(p.keepEvery());
        }
        if (p.keepBest() != null) {
            b.append(", keepBest ").append(p.keepBest().metric()).append(' ').append(p.keepBest().mode().json())
                    .append(' ').append(p.keepBest().count());
        }
        return b.append(", minAgeMinutes ").append(p.minAgeMinutes()).toString();
    }

    /** Keeps everything (the policy itself could not be used), saying why. */
    public static RetentionPlan keepAll(List<Checkpoint> checkpoints, String why) {
        List<RetentionPlan.Kept> keep = new ArrayList<>();
        List<RetentionPlan.Removed> remove = new ArrayList<>();
        checkpoints.stream().sorted(Comparator.comparingLong(Checkpoint::step).reversed()).forEach(c -> {
            if (c.state() == CheckpointState.DELETING) {
                remove.add(new RetentionPlan.Removed(c.step(), c.state(),
                        "deletion in progress (tombstone written): finish it", RetentionPolicy.Action.DELETE.json()));
            } else if (c.state() != CheckpointState.DELETED) {
                keep.add(new RetentionPlan.Kept(c.step(), c.state(), List.of("unsure: " + why)));
            }
        });
        return new RetentionPlan(keep, remove);
    }
}
