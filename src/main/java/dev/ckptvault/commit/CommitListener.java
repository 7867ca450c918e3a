package dev.ckptvault.commit;

import dev.ckptvault.checkpoint.Checkpoint;

/**
 * Told after a checkpoint became COMMITTED (commit record written, leases taken, index updated).
 * Retention enforcement and outgoing events hang here; a listener's failure never undoes or
 * delays the commit (the committer logs it and the sweep catches up).
 */
public interface CommitListener {
    void onCommitted(Checkpoint checkpoint);
}
