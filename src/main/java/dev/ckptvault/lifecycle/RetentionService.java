package dev.ckptvault.lifecycle;

import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.events.OutgoingEvent;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageCalls;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;
import java.util.logging.Logger;
import dev.ckptvault.retention.RetentionPlan;
import dev.ckptvault.retention.RetentionPlanner;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.run.RunPolicies;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * Retention for one run at a time: the dry-run plan, enforcing it, pins and admin deletes. The
 * planner decides; the enforcer acts; this class feeds them the index and the run's policy.
 */
public final class RetentionService {
    private static final Logger LOG = Logger.getLogger(RetentionService.class.getName());

    private final CheckpointIndex index;
    private final RunPolicies policies;
    private final RunRecords runs;
    private final RetentionEnforcer enforcer;
    private final OutgoingEvents events;
    private final ContainerStore store;
    private final Clock clock;

    public RetentionService(CheckpointIndex index, RunPolicies policies, RunRecords runs, RetentionEnforcer enforcer,
                            OutgoingEvents events, ContainerStore store, Clock clock) {
        this.index = index;
        this.policies = policies;
        this.runs = runs;
        this.enforcer = enforcer;
        this.events = events;
        this.store = store;
        this.clock = clock;
    }

    /** {@code GET /runs/{runId}/retention/plan}: the plan with the policy it was made with. */
    public record PlanView(String runId, Instant plannedAt, RetentionPolicy policy, String policyProblem,
                           List<RetentionPlan.Kept> keep, List<RetentionPlan.Removed> remove) {
    }

    /** What one enforcement pass over a run did. */
    public record RunResult(String runId, List<RetentionEnforcer.Result> results, int failures, int eventsSent) {
    }

    public PlanView plan(RunId run) {
        List<Checkpoint> all = index.allOfRun(run);
        if (all.isEmpty() && runs.read(run).isEmpty()) {
            throw new NotFoundException(ErrorCodes.NOT_FOUND, "run " + run + " has no checkpoints and no run record",
                    "runId");
        }
        RunPolicies.Lookup lookup = policies.lookup(run);
        RetentionPlan plan = planOf(all, lookup);
        return new PlanView(run.value(), Instant.now(clock), lookup.policy(), lookup.problem(), plan.keep(),
                plan.remove());
    }

    private RetentionPlan planOf(List<Checkpoint> all, RunPolicies.Lookup lookup) {
        return lookup.problem() != null ? RetentionPlanner.keepAll(all, lookup.problem())
                : RetentionPlanner.plan(all, lookup.policy(), Instant.now(clock));
    }

    /**
     * Plans and carries out retention for a run, then sends the events it still owes. One
     * checkpoint's failure does not stop the others.
     *
     * <p>The plan comes from the index, which can be behind storage (an event lost or not yet
     * delivered, a file changed behind the app's back). Each removed checkpoint is re-read before
     * it goes; before the first removal, so are the checkpoints whose being COMMITTED lets the
     * plan remove others (see {@link #keepersDisagree}). When storage disagrees with the plan
     * about any of them, this pass removes nothing and corrects their rows, so the next pass
     * plans from what storage holds.
     */
    public RunResult enforce(RunId run) {
        List<Checkpoint> all = index.allOfRun(run);
        RetentionPlan plan = planOf(all, policies.lookup(run));
        List<RetentionEnforcer.Result> results = new ArrayList<>();
        int failures = 0;
        Optional<String> disagreement = Optional.empty();
        if (plan.remove().stream().anyMatch(r -> r.state() != CheckpointState.DELETING)) {
            disagreement = keepersDisagree(all, plan);
        }
        for (RetentionPlan.Removed removal : plan.remove()) {
            if (disagreement.isPresent() && removal.state() != CheckpointState.DELETING) {
                results.add(new RetentionEnforcer.Result(removal.step(), RetentionEnforcer.Outcome.SKIPPED,
                        disagreement.get()));
                continue;
            }
            Checkpoint seen = all.stream().filter(c -> c.step() == removal.step() && c.state() == removal.state())
                    .findFirst().orElseThrow();
            try {
                results.add(enforcer.apply(seen, removal));
            } catch (RuntimeException e) {
                failures++;
                LOG.log(StorageCalls.isTransient(e) ? Level.WARNING : Level.SEVERE,
                        "retention of " + run + "@" + removal.step() + " failed; the next sweep retries: " + e.getMessage(),
                        StorageCalls.isTransient(e) ? null : e);
            }
        }
        if (disagreement.isPresent()) {
            LOG.warning("retention of " + run + " removed nothing: " + disagreement.get());
        }
        int sent = 0;
        if (events.enabled()) {
            try {
                sent = events.republishCommitted(index.allOfRun(run), index) + republishDeleted(all);
            } catch (RuntimeException e) {
                failures++;
                LOG.log(Level.WARNING, "republishing events of " + run + " failed; the next sweep retries: "
                        + e.getMessage());
            }
        }
        return new RunResult(run.value(), results, failures, sent);
    }

    /**
     * Re-reads from storage every checkpoint the plan keeps as latest, by keepLast or by keepBest
     * (those rules rank the committed checkpoints, so each of these is a reason others are
     * removed). keepEvery, minAge and pins keep a checkpoint without removing any other, and each
     * removed checkpoint is re-read by the enforcer anyway, so those are not read here.
     *
     * @return what disagrees, when storage differs from the index row the plan used
     */
    private Optional<String> keepersDisagree(List<Checkpoint> all, RetentionPlan plan) {
        List<String> changed = new ArrayList<>();
        for (RetentionPlan.Kept kept : plan.keep()) {
            if (!RetentionPlanner.ranksOthers(kept)) {
                continue;
            }
            Checkpoint seen = all.stream().filter(c -> c.step() == kept.step() && c.state() == kept.state())
                    .findFirst().orElseThrow();
            CheckpointId id = CheckpointId.of(seen.runId(), seen.step());
            Checkpoint now = index.inspect(id);
            if (!RetentionEnforcer.sameAsPlanned(seen, now) || !seen.metrics().equals(now.metrics())) {
                changed.add(seen.step() + " is " + now.state() + (now.pinned() == seen.pinned() ? "" : now.pinned()
                        ? ", pinned" : ", not pinned") + " in storage, " + seen.state() + " in the index");
                index.refresh(id);
            }
        }
        return changed.isEmpty() ? Optional.empty() : Optional.of("checkpoints the plan keeps changed in storage ("
                + String.join("; ", changed) + "); nothing removed this pass, the next pass plans again");
    }

    private int republishDeleted(List<Checkpoint> all) {
        int sent = 0;
        for (Checkpoint c : all) {
            if (c.state() != CheckpointState.DELETED) {
                continue;
            }
            CheckpointId id = CheckpointId.of(c.runId(), c.step());
            if (events.isMarked(id.tombstoneBlob(), OutgoingEvents.DELETED_MARK,
                    OutgoingEvents.cacheKey(c, OutgoingEvent.DELETED))) {
                continue;
            }
            Tombstone t = store.download(id.tombstoneBlob()).map(b -> Json.read(b, Tombstone.class)).orElse(null);
            if (t != null && t.committed() && t.event() != null && events.deleted(id, t)) {
                sent++;
            }
        }
        return sent;
    }

    /**
     * Sets or clears the pin (metadata {@code pinned} on {@code _commit.json}, so reindex keeps it).
     * Pinning needs a COMMITTED checkpoint; unpinning works on any with a commit record.
     */
    public Checkpoint pin(CheckpointId id, boolean pinned) {
        Map<BlobName.Kind, StoredBlob> records = store.records(id);
        if (records.isEmpty() && index.get(id).isEmpty()) {
            throw notFound(id);
        }
        if (records.containsKey(BlobName.Kind.TOMBSTONE)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_COMMITTED,
                    "checkpoint " + id.step() + " of run " + id.run() + " is deleted or being deleted", "step");
        }
        if (!records.containsKey(BlobName.Kind.COMMIT)) {
            throw notCommitted(id, index.get(id).map(Checkpoint::state).orElse(null));
        }
        if (pinned) {
            Checkpoint now = index.refresh(id);
            if (now.state() != CheckpointState.COMMITTED) {
                throw notCommitted(id, now.state());
            }
        }
        if (!store.mergeMetadata(id.commitBlob(), Map.of(CommitRecord.PINNED_METADATA, Boolean.toString(pinned)))) {
            throw notFound(id);
        }
        // Checked after writing: retention re-reads the pin after writing its tombstone, so one of
        // the two always sees the other.
        if (store.records(id).containsKey(BlobName.Kind.TOMBSTONE)) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_NOT_COMMITTED, "checkpoint " + id.step() + " of run "
                    + id.run() + " began to be deleted while pinning; GET it to see whether the pin held", "step");
        }
        return index.refresh(id);
    }

    /** What an admin delete answers. */
    public record DeleteAnswer(String runId, long step, CheckpointState state, String detail) {
    }

    /**
     * {@code DELETE /runs/{runId}/checkpoints/{step}}: deletes now, whatever the policy says. The
     * only COMMITTED checkpoint of a run, and a pinned one, need {@code force}.
     */
    public DeleteAnswer deleteNow(CheckpointId id, boolean force) {
        // One listing: refresh answers null when neither storage nor the index knows the checkpoint.
        Checkpoint now = index.refresh(id);
        if (now == null) {
            throw notFound(id);
        }
        if (now.state() == CheckpointState.DELETED) {
            return new DeleteAnswer(id.run().value(), id.step().value(), now.state(), "already deleted");
        }
        if (!force && now.pinned()) {
            throw new ConflictException(ErrorCodes.CHECKPOINT_PINNED, "checkpoint " + id.step() + " of run " + id.run()
                    + " is pinned; unpin it first or add ?force=true", "step");
        }
        if (!force && now.state() == CheckpointState.COMMITTED && index.allOfRun(id.run()).stream()
                .noneMatch(c -> c.state() == CheckpointState.COMMITTED && c.step() != id.step().value())) {
            throw new ConflictException(ErrorCodes.ONLY_COMMITTED_CHECKPOINT, "checkpoint " + id.step() + " is the only"
                    + " committed checkpoint of run " + id.run() + "; a restart would have nothing to resume from."
                    + " Add ?force=true to delete it anyway", "step");
        }
        RetentionEnforcer.Result r = enforcer.delete(now, "deleted by an admin request" + (force ? " (force)" : ""),
                force);
        Checkpoint after = index.get(id).orElse(now);
        return new DeleteAnswer(id.run().value(), id.step().value(), after.state(), r.detail());
    }

    private static NotFoundException notFound(CheckpointId id) {
        return new NotFoundException(ErrorCodes.NOT_FOUND, "run " + id.run() + " has no checkpoint " + id.step(), "step");
    }

    private static ConflictException notCommitted(CheckpointId id, CheckpointState state) {
        return new ConflictException(ErrorCodes.CHECKPOINT_NOT_COMMITTED, "checkpoint " + id.step() + " of run "
                + id.run() + " is " + (state == null ? "not committed" : state) + "; only COMMITTED checkpoints can be pinned",
                "step");
    }
}
