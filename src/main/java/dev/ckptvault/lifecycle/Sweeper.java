package dev.ckptvault.lifecycle;

import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.storage.StorageCalls;
import java.util.List;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The timer sweep: what events may have missed, retention for every run, owed events. Each part
 * and each run is isolated, so one failure never stops the rest; the next sweep retries it.
 */
public final class Sweeper {
    private static final Logger LOG = Logger.getLogger(Sweeper.class.getName());

    private final CheckpointIndex index;
    private final RunRecords runs;
    private final RetentionService retention;

    public Sweeper(CheckpointIndex index, RunRecords runs, RetentionService retention) {
        this.index = index;
        this.runs = runs;
        this.retention = retention;
    }

    /** What one sweep did (logged; tests read it). */
    public record Report(int rechecked, int runs, int deleted, int cooled, int skipped, int eventsSent, int failures) {
        public boolean changedNothing() {
            return deleted == 0 && cooled == 0 && eventsSent == 0;
        }
    }

    public Report sweep() {
        int rechecked = 0;
        int failures = 0;
        // UPLOADING and COMMITTING rows are re-derived from storage: events lost or dead-lettered
        // are caught up, and rows past the TTL become ABANDONED (collected by retention below).
        for (CheckpointId id : index.open()) {
            try {
                index.refresh(id);
                rechecked++;
            } catch (RuntimeException e) {
                failures++;
                LOG.log(Level.WARNING, "re-checking " + id + " failed: " + e.getMessage(), StorageCalls.isTransient(e) ? null : e);
            }
        }
        int deleted = 0;
        int cooled = 0;
        int skipped = 0;
        int sent = 0;
        List<RunId> all = runs.listRuns();
        for (RunId run : all) {
            try {
                RetentionService.RunResult r = retention.enforce(run);
                failures += r.failures();
                sent += r.eventsSent();
                for (RetentionEnforcer.Result x : r.results()) {
                    switch (x.outcome()) {
                        case DELETED -> deleted++;
                        case COOLED -> cooled++;
                        case SKIPPED -> skipped++;
                        default -> { }
                    }
                }
            } catch (RuntimeException e) {
                failures++;
                LOG.log(Level.WARNING, "retention of run " + run + " failed: " + e.getMessage(),
                        StorageCalls.isTransient(e) ? null : e);
            }
        }
        Report report = new Report(rechecked, all.size(), deleted, cooled, skipped, sent, failures);
        LOG.info("sweep: " + report);
        return report;
    }
}
