package dev.ckptvault.lifecycle;

import dev.ckptvault.commit.CommitListener;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.layout.RunId;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * After each commit: announce it (CheckpointCommitted) and apply the run's retention. Runs off the
 * committer's thread, so neither a slow topic nor deleting a thousand blobs delays the commit
 * answer; whatever does not happen here (full queue, failure, process stopped) the sweep does.
 */
public final class RetentionCommitListener implements CommitListener {
    private static final Logger LOG = Logger.getLogger(RetentionCommitListener.class.getName());

    private final OutgoingEvents events;
    private final RetentionService retention;
    private final Executor executor;

    public RetentionCommitListener(OutgoingEvents events, RetentionService retention, Executor executor) {
        this.events = events;
        this.retention = retention;
        this.executor = executor;
    }

    /** One background thread with a bounded queue; what overflows is left to the sweep. */
    public static ExecutorService background() {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 60, TimeUnit.SECONDS, new LinkedBlockingQueue<>(1000),
                r -> {
                    Thread t = new Thread(r, "ckptvault-after-commit");
                    t.setDaemon(true);
                    return t;
                }, new ThreadPoolExecutor.DiscardPolicy());
        pool.allowCoreThreadTimeOut(true);
        return pool;
    }

    @Override
    public void onCommitted(Checkpoint checkpoint) {
        try {
            executor.execute(() -> afterCommit(checkpoint));
        } catch (RejectedExecutionException e) {
            LOG.warning("after-commit work for " + checkpoint.runId() + "@" + checkpoint.step()
                    + " not queued; the sweep does it");
        }
    }

    /**
     * Waits until the work queued before this call is done (one worker thread: a marker task runs
     * after everything queued earlier). For shutdown and tests.
     *
     * @return false when the timeout passed first
     */
    public boolean drain(Duration timeout) {
        CountDownLatch done = new CountDownLatch(1);
        try {
            executor.execute(done::countDown);
            return done.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    void afterCommit(Checkpoint checkpoint) {
        try {
            events.committed(checkpoint);
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "CheckpointCommitted for " + checkpoint.runId() + "@" + checkpoint.step()
                    + " not sent; the sweep retries: " + e.getMessage());
        }
        try {
            retention.enforce(new RunId(checkpoint.runId()));
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "retention after the commit of " + checkpoint.runId() + "@" + checkpoint.step()
                    + " failed; the sweep retries: " + e.getMessage());
        }
    }
}
