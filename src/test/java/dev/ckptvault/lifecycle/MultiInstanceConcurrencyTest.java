package dev.ckptvault.lifecycle;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.specialized.BlobLeaseClientBuilder;
import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.CommitRecord;
import dev.ckptvault.checkpoint.Derivation;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.checkpoint.Manifest;
import dev.ckptvault.checkpoint.StepListing;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.commit.CheckpointSync;
import dev.ckptvault.commit.BlobEventHandler;
import dev.ckptvault.commit.CommitLeases;
import dev.ckptvault.commit.CommitService;
import dev.ckptvault.commit.Reindexer;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.functions.PinFunction;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.functions.UnpinFunction;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.retention.RetentionPlan;
import dev.ckptvault.retention.RetentionPlanner;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Several app instances (separate TestApps on one Azurite: one container, one index table) live
 * one run's life at once, from seeded schedules: commits, commits whose process stopped after
 * storing the manifest (retried later, or completed by the manifest's event), blob events
 * delivered late, out of order, duplicated and concurrently to any instance, sweeps, retention,
 * pins and unpins, reindex, and committed files overwritten behind the app's back with their
 * events held back (Event Grid may deliver hours late). Each operation runs on a thread of its own
 * and can be parked at the enforcer's fault points or right after a sync's listing while other
 * instances act, so a seed names one interleaving and runs it again the same way.
 *
 * <p>After each schedule (all parked operations finished, every event delivered at least once):
 * nothing was deleted that the retention plan over storage itself kept when its tombstone was
 * written; no acknowledged pin was lost; latest is the highest COMMITTED step in storage; and the
 * index equals what reindex rebuilds from the container.
 *
 * <p>{@code -Dconcurrency.schedules=N -Dconcurrency.firstSeed=S} run other seeds;
 * {@code -Dconcurrency.trace=true} prints every schedule, {@code -Dconcurrency.debugEvents=true}
 * adds the queued events after each operation. On the code before the fixes of issue 11, seeds 3
 * (reindex dropped a row created during it), 5, 13, 14, 18 (retention trusted a stale index and
 * deleted a keepLast member) and 8 (a pin acknowledged before the tombstone was lost) failed.
 */
class MultiInstanceConcurrencyTest {
    static final int SCHEDULES = Integer.getInteger("concurrency.schedules", 20);
    static final int FIRST_SEED = Integer.getInteger("concurrency.firstSeed", 1);
    static final int OPERATIONS = Integer.getInteger("concurrency.operations", 24);
    static final int INSTANCES = 3;
    static final String SYNC_LISTED = "syncListed";
    static final long WAIT_SECONDS = 60;

    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    @Test
    void seededSchedulesOfSeveralInstancesKeepEveryPromise() {
        List<String> failures = new ArrayList<>();
        long started = System.nanoTime();
        int operations = 0;
        for (int seed = FIRST_SEED; seed < FIRST_SEED + SCHEDULES; seed++) {
            long t0 = System.nanoTime();
            try (Schedule s = new Schedule(seed)) {
                s.run();
                operations += s.trace.size();
                List<String> problems = s.check();
                if (Boolean.getBoolean("concurrency.trace")) {
                    System.out.println("  trace " + seed + ": " + String.join(" | ", s.trace));
                }
                System.out.printf("concurrency seed %d: %d operations %s, %d parks, %d events, %d ms%s%n", seed,
                        s.trace.size(), s.counts, s.parks, s.eventsDelivered, (System.nanoTime() - t0) / 1_000_000,
                        problems.isEmpty() ? "" : " FAILED: " + problems);
                if (!problems.isEmpty()) {
                    failures.add("seed " + seed + ": " + String.join("; ", problems) + "\n    schedule: "
                            + String.join(" | ", s.trace));
                }
            } catch (Exception | AssertionError e) {
                failures.add("seed " + seed + ": " + e);
                e.printStackTrace(System.out);
            }
        }
        System.out.printf("concurrency: %d schedules (seeds %d-%d), %d operations, %d instances, %d s%n", SCHEDULES,
                FIRST_SEED, FIRST_SEED + SCHEDULES - 1, operations, INSTANCES,
                (System.nanoTime() - started) / 1_000_000_000);
        assertTrue(failures.isEmpty(), failures.size() + " of " + SCHEDULES + " schedules broke a promise:\n"
                + String.join("\n", failures));
    }

    /** Where operations of this schedule stop until the scheduler resumes them. */
    static final class Gate {
        final ThreadLocal<Op> bound = new ThreadLocal<>();
        final RunId run;

        Gate(RunId run) {
            this.run = run;
        }

        void reached(String point, RunId of, CheckpointId id) {
            Op op = bound.get();
            if (op != null && run.equals(of)) {
                op.reached(point, id);
            }
        }
    }

    /** One scheduled operation, on a thread of its own. */
    static final class Op {
        static final String PARKED = "parked";
        static final String DONE = "done";
        final String label;
        final ConcurrentLinkedDeque<String> parkAt;
        final BlockingQueue<String> signals = new LinkedBlockingQueue<>();
        final Semaphore resume = new Semaphore(0);
        volatile String parkedAt;
        volatile CheckpointId parkedOn;
        volatile Throwable error;

        Op(String label, List<String> parkAt) {
            this.label = label;
            this.parkAt = new ConcurrentLinkedDeque<>(parkAt);
        }

        void reached(String point, CheckpointId id) {
            if (!point.equals(parkAt.peekFirst())) {
                return;
            }
            parkAt.pollFirst();
            parkedOn = id;
            parkedAt = point;
            signals.add(PARKED);
            resume.acquireUninterruptibly();
            parkedAt = null;
        }

        @Override
        public String toString() {
            return label + (parkedAt == null ? "" : " (parked at " + parkedAt + (parkedOn == null ? "" : " on "
                    + parkedOn.step()) + ")");
        }
    }

    /**
     * One app instance: its TestApp for uploads, pins and reads, plus its sync and everything
     * above it (commit, blob events, retention, sweep, reindex) rebuilt on that sync so that they
     * stop at the gate. Work after a commit is queued here instead of running at once on a
     * background thread: the schedule runs it, late and in any order, or loses it (a process
     * that stopped), as the after-commit thread may.
     */
    static final class Instance {
        final int n;
        final TestApp app;
        final Trainer trainer;
        final CommitService commits;
        final BlobEventHandler events;
        final RetentionService retention;
        final Sweeper sweeper;
        final Reindexer reindexer;
        final List<Runnable> afterCommit = Collections.synchronizedList(new ArrayList<>());

        Instance(int n, TestApp app, Gate gate, ExecutorService leasePool) {
            this.n = n;
            this.app = app;
            this.trainer = new Trainer(app);
            CheckpointSync sync = new CheckpointSync(app.store, app.index, new CommitLeases(app.store, leasePool),
                    app.clock, run -> {
                        gate.reached(SYNC_LISTED, run, null);
                        return app.policies.incompleteTtl(run);
                    });
            RetentionEnforcer enforcer = new RetentionEnforcer(app.store, sync, app.outgoing, app.clock,
                    (point, id) -> gate.reached(point, id.run(), id));
            retention = new RetentionService(sync, app.policies, app.runs, enforcer, app.outgoing, app.store,
                    app.clock);
            sync.addListener(new RetentionCommitListener(app.outgoing, retention, afterCommit::add));
            commits = new CommitService(app.store, sync, app.config.maxFilesPerRequest());
            events = new BlobEventHandler(app.storage.blobService().getAccountName(), app.config.container(),
                    app.index, sync, app.store, app.clock, at -> { });
            sweeper = new Sweeper(sync, app.runs, retention);
            reindexer = new Reindexer(app.store, app.index, sync);
        }
    }

    enum Kind { COMMIT, CRASHED_COMMIT, RETRY_COMMIT, DELIVER, BURST, SWEEP, ENFORCE, AFTER_COMMIT, LOSE_AFTER_COMMIT,
        PIN, UNPIN, REINDEX, TAMPER, RESUME }

    record Pending(String name, String json) {
    }

    record Crashed(CheckpointId id, JsonNode manifest) {
    }

    /** A tombstone written while the plan over storage kept its checkpoint: a violation if the deletion went through. */
    record Candidate(long step, Instant deletedAt, List<String> keptFor, String reason, String when) {
    }

    static final class Schedule implements AutoCloseable {
        final int seed;
        final Random r;
        final String run;
        final RunId runId;
        final Gate gate;
        final String container;
        final String table;
        final ExecutorService threads = Executors.newCachedThreadPool();
        final List<Instance> instances = new ArrayList<>();
        final TestApp rebuilt;
        final RetentionPolicy policy;
        final List<String> trace = new ArrayList<>();
        final Map<Kind, Integer> counts = new TreeMap<>();
        final List<Pending> pending = new ArrayList<>();
        final List<Op> parked = new ArrayList<>();
        final List<Crashed> crashed = new ArrayList<>();
        final List<String> opErrors = new ArrayList<>();
        final Map<String, StoredBlob> seen = new HashMap<>();
        final Map<String, byte[]> contents = new HashMap<>();
        final Map<Long, Instant> tombstoneSeen = new HashMap<>();
        final List<Candidate> candidates = new ArrayList<>();
        final Map<Long, Boolean> pinAcknowledged = new TreeMap<>();
        Map<Long, Checkpoint> truth = new TreeMap<>();
        long step;
        int parks;
        int eventsDelivered;

        Schedule(int seed) {
            this.seed = seed;
            this.r = new Random(seed);
            this.run = "conc-" + seed;
            this.runId = new RunId(run);
            this.gate = new Gate(runId);
            this.container = "conc-" + seed;
            this.table = "conc" + seed;
            Map<String, String> settings = Map.of("CKPT_CONTAINER", container, "CKPT_INDEX_TABLE", table,
                    "CKPT_RETENTION_MIN_AGE_MINUTES", "0");
            for (int i = 0; i < INSTANCES; i++) {
                instances.add(new Instance(i, AZURITE.app(settings, Clock.systemUTC()), gate, threads));
            }
            rebuilt = AZURITE.app(Map.of("CKPT_CONTAINER", container, "CKPT_INDEX_TABLE", table + "re",
                    "CKPT_RETENTION_MIN_AGE_MINUTES", "0"), Clock.systemUTC());
            String body = "{\"retention\":{\"keepLast\":" + (1 + r.nextInt(3))
                    + (r.nextInt(10) < 3 ? ",\"keepEvery\":" + (3 + r.nextInt(3)) : "")
                    + (r.nextInt(10) < 3 ? ",\"keepBest\":{\"metric\":\"loss\",\"mode\":\"min\",\"count\":1}" : "")
                    + "}}";
            var put = app(0).function(PutRunFunction.class).run(
                    LocalHttpRequest.of(HttpMethod.PUT, "/api/runs/" + run, Map.of(), body), run);
            if (put.getStatusCode() != 200) {
                throw new AssertionError("PUT run answered " + put.getStatusCode());
            }
            policy = app(0).policies.effective(runId);
            trace.add("policy " + body);
        }

        TestApp app(int i) {
            return instances.get(i).app;
        }

        Instance any() {
            return instances.get(r.nextInt(INSTANCES));
        }

        void run() throws Exception {
            snapshot();
            for (int i = 0; i < OPERATIONS; i++) {
                Kind k = choose();
                counts.merge(k, 1, Integer::sum);
                perform(k);
                drain();
                snapshot();
            }
            finish();
        }

        // ---- choosing -----------------------------------------------------------------------------

        /**
         * The next operation, by weights that follow what is going on: an operation parked before
         * its tombstone invites a pin of that checkpoint; one parked right after its tombstone
         * invites the tombstone's event and another instance's retention.
         */
        Kind choose() {
            Map<Kind, Double> w = new LinkedHashMap<>();
            Optional<Op> beforeTombstone = parkedAt(RetentionEnforcer.BEFORE_TOMBSTONE);
            Optional<Op> afterTombstone = parkedAt(RetentionEnforcer.TOMBSTONE_WRITTEN);
            boolean tombstoneEventPending = afterTombstone.isPresent() && pending.stream()
                    .anyMatch(p -> p.name().equals(afterTombstone.get().parkedOn.tombstoneBlob()));
            boolean queued = instances.stream().anyMatch(i -> !i.afterCommit.isEmpty());
            long committed = truth.values().stream().filter(c -> c.state() == CheckpointState.COMMITTED).count();
            w.put(Kind.COMMIT, committed < 3 ? 8.0 : 4.0);
            w.put(Kind.CRASHED_COMMIT, 1.0);
            w.put(Kind.RETRY_COMMIT, crashed.isEmpty() ? 0 : 1.0);
            w.put(Kind.DELIVER, pending.isEmpty() ? 0 : tombstoneEventPending ? 8.0 : 3.0);
            w.put(Kind.BURST, pending.isEmpty() ? 0 : 0.7);
            w.put(Kind.SWEEP, afterTombstone.isPresent() ? 4.0 : 1.0);
            w.put(Kind.ENFORCE, afterTombstone.isPresent() ? 3.0 : 1.0);
            w.put(Kind.AFTER_COMMIT, !queued ? 0 : afterTombstone.isPresent() ? 3.0 : 4.0);
            w.put(Kind.LOSE_AFTER_COMMIT, queued ? 0.3 : 0);
            w.put(Kind.PIN, committed == 0 ? 0 : beforeTombstone.isPresent() ? 8.0 : 1.2);
            w.put(Kind.UNPIN, pinAcknowledged.containsValue(true) ? 0.5 : 0);
            w.put(Kind.REINDEX, 0.8);
            w.put(Kind.TAMPER, parked.isEmpty() && committed > 0 ? 1.3 : 0);
            w.put(Kind.RESUME, parked.isEmpty() ? 0 : afterTombstone.isPresent() ? 1.0 : 3.0);
            double total = w.values().stream().mapToDouble(Double::doubleValue).sum();
            double x = r.nextDouble() * total;
            for (Map.Entry<Kind, Double> e : w.entrySet()) {
                x -= e.getValue();
                if (x < 0) {
                    return e.getKey();
                }
            }
            return Kind.COMMIT;
        }

        Optional<Op> parkedAt(String point) {
            return parked.stream().filter(o -> point.equals(o.parkedAt) && o.parkedOn != null).findFirst();
        }

        List<String> retentionParkPlan() {
            if (parked.size() >= 2) {
                return List.of();
            }
            List<List<String>> plans = List.of(List.of(), List.of(), List.of(RetentionEnforcer.BEFORE_TOMBSTONE),
                    List.of(RetentionEnforcer.TOMBSTONE_WRITTEN),
                    List.of(RetentionEnforcer.BEFORE_TOMBSTONE, RetentionEnforcer.TOMBSTONE_WRITTEN),
                    List.of(RetentionEnforcer.BEFORE_TOMBSTONE, RetentionEnforcer.TOMBSTONE_WRITTEN),
                    List.of(RetentionEnforcer.AFTER_TOMBSTONE), List.of(RetentionEnforcer.AFTER_FILES),
                    List.of(SYNC_LISTED));
            return plans.get(r.nextInt(plans.size()));
        }

        // ---- operations ---------------------------------------------------------------------------

        void perform(Kind k) throws Exception {
            switch (k) {
                case COMMIT -> {
                    Instance i = any();
                    step += 1 + r.nextInt(2);
                    Map<String, Double> metrics = r.nextInt(10) < 8 ? Map.of("loss", (double) r.nextInt(5)) : Map.of();
                    int files = 1 + r.nextInt(2);
                    CheckpointId id = CheckpointId.of(run, step);
                    Checkpoint c = i.commits.commit(id, manifest(id, i.trainer.writeSmall(run, step, files), metrics));
                    trace.add("commit " + step + "@" + i.n + " -> " + c.state());
                }
                case CRASHED_COMMIT -> {
                    Instance i = any();
                    step += 1 + r.nextInt(2);
                    CheckpointId id = CheckpointId.of(run, step);
                    int files = 1 + r.nextInt(2);
                    JsonNode manifest = manifest(id, i.trainer.writeSmall(run, step, files),
                            Map.of("loss", (double) r.nextInt(5)));
                    // The commit call stored the manifest, then its process stopped before syncing.
                    i.app.store.createIfAbsent(id.manifestBlob(),
                            Manifest.fromJson(manifest, step, 100).canonical(), Map.of());
                    crashed.add(new Crashed(id, manifest));
                    trace.add("crashed commit " + step + "@" + i.n);
                }
                case RETRY_COMMIT -> {
                    Instance i = any();
                    Crashed c = crashed.get(r.nextInt(crashed.size()));
                    if (r.nextInt(10) < 7) {
                        crashed.remove(c);
                    }
                    String outcome;
                    try {
                        outcome = i.app.commits.commit(c.id(), c.manifest()).state().name();
                    } catch (ConflictException e) {
                        outcome = "409 " + e.getMessage();
                    }
                    trace.add("retry commit " + c.id().step().value() + "@" + i.n + " -> " + outcome);
                }
                case DELIVER -> deliverSome();
                case BURST -> burst();
                case SWEEP -> {
                    Instance i = any();
                    start("sweep@" + i.n, retentionParkPlan(), () -> i.sweeper.sweep());
                }
                case ENFORCE -> {
                    Instance i = any();
                    start("enforce@" + i.n, retentionParkPlan(), () -> i.retention.enforce(runId));
                }
                case AFTER_COMMIT -> {
                    List<Instance> queued = instances.stream().filter(x -> !x.afterCommit.isEmpty()).toList();
                    Instance i = queued.get(r.nextInt(queued.size()));
                    Runnable task = i.afterCommit.remove(r.nextInt(i.afterCommit.size()));
                    start("after-commit@" + i.n, retentionParkPlan(), task);
                }
                case LOSE_AFTER_COMMIT -> {
                    List<Instance> queued = instances.stream().filter(x -> !x.afterCommit.isEmpty()).toList();
                    Instance i = queued.get(r.nextInt(queued.size()));
                    i.afterCommit.remove(r.nextInt(i.afterCommit.size()));
                    trace.add("after-commit work of " + i.n + " lost");
                }
                case PIN -> pin(true);
                case UNPIN -> pin(false);
                case REINDEX -> {
                    Instance i = any();
                    List<String> plan = parked.size() < 2 && r.nextInt(10) < 6 ? List.of(SYNC_LISTED) : List.of();
                    start("reindex@" + i.n, plan, () -> i.reindexer.reindex(runId));
                }
                case TAMPER -> tamper();
                case RESUME -> {
                    Op op = parked.get(r.nextInt(parked.size()));
                    trace.add("resume " + op);
                    resume(op);
                }
                default -> throw new IllegalStateException(k.name());
            }
        }

        /** The manifest rank 0 would send for {@link Trainer#writeSmall}'s files: sizes and eTags. */
        static JsonNode manifest(CheckpointId id, List<String> etags, Map<String, Double> metrics) {
            StringBuilder m = new StringBuilder("{\"step\":" + id.step().value() + ",\"files\":[");
            for (int f = 0; f < etags.size(); f++) {
                String path = "rank-" + f + "/shard.bin";
                long size = ("data of " + id.prefix() + path).getBytes(StandardCharsets.UTF_8).length;
                m.append(f == 0 ? "" : ",").append("{\"path\":\"").append(path).append("\",\"size\":").append(size)
                        .append(",\"etag\":").append(Json.write(etags.get(f))).append('}');
            }
            m.append("],\"metrics\":").append(Json.write(metrics)).append('}');
            return Json.parse(m.toString(), "manifest");
        }

        void start(String label, List<String> parkAt, Runnable body) {
            Op op = new Op(label, parkAt);
            trace.add(label + (parkAt.isEmpty() ? "" : " park " + parkAt));
            threads.submit(() -> {
                gate.bound.set(op);
                try {
                    body.run();
                } catch (Throwable t) {
                    op.error = t;
                } finally {
                    gate.bound.remove();
                    op.signals.add(Op.DONE);
                }
            });
            settle(op);
        }

        void resume(Op op) {
            parked.remove(op);
            op.resume.release();
            settle(op);
        }

        /** Waits until the operation finished or parked (a poll with a deadline: a hang fails the schedule). */
        void settle(Op op) {
            String signal;
            try {
                signal = op.signals.poll(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            if (signal == null) {
                throw new AssertionError(op.label + " neither finished nor parked within " + WAIT_SECONDS + " s");
            }
            if (signal.equals(Op.PARKED)) {
                parks++;
                parked.add(op);
                trace.add("  " + op);
            } else if (op.error != null) {
                opErrors.add(op.label + " failed: " + op.error);
            }
        }

        void pin(boolean pinned) {
            Instance i = any();
            long target;
            Optional<Op> deleting = parkedAt(RetentionEnforcer.BEFORE_TOMBSTONE);
            List<Long> candidates = pinned
                    ? truth.values().stream().filter(c -> c.state() == CheckpointState.COMMITTED).map(Checkpoint::step).toList()
                    : pinAcknowledged.entrySet().stream().filter(Map.Entry::getValue).map(Map.Entry::getKey).toList();
            if (pinned && deleting.isPresent() && r.nextInt(10) < 7) {
                target = deleting.get().parkedOn.step().value();
            } else if (!candidates.isEmpty()) {
                target = candidates.get(r.nextInt(candidates.size()));
            } else {
                return;
            }
            String s = Long.toString(target);
            String route = "/api/runs/" + run + "/checkpoints/" + s + "/pin";
            int status = pinned
                    ? i.app.function(PinFunction.class).run(LocalHttpRequest.of(HttpMethod.PUT, route, Map.of(), null),
                            run, s).getStatusCode()
                    : i.app.function(UnpinFunction.class).run(LocalHttpRequest.of(HttpMethod.DELETE, route, Map.of(),
                            null), run, s).getStatusCode();
            if (status == 200) {
                pinAcknowledged.put(target, pinned);
            }
            trace.add((pinned ? "pin " : "unpin ") + target + "@" + i.n + " -> " + status);
        }

        /** A committed file overwritten behind the app's back (lease broken first); its event waits in the queue. */
        void tamper() {
            List<Long> committed = truth.values().stream().filter(c -> c.state() == CheckpointState.COMMITTED)
                    .map(Checkpoint::step).toList();
            long target = r.nextInt(10) < 6 ? committed.get(committed.size() - 1)
                    : committed.get(r.nextInt(committed.size()));
            String blob = CheckpointId.of(run, target).prefix() + "rank-0/shard.bin";
            var client = app(0).storage.container().getBlobClient(blob);
            new BlobLeaseClientBuilder().blobClient(client).buildClient().breakLease();
            client.upload(BinaryData.fromString("overwritten in schedule " + seed), true);
            trace.add("tamper " + target);
        }

        void deliverSome() {
            Optional<Op> afterTombstone = parkedAt(RetentionEnforcer.TOMBSTONE_WRITTEN);
            List<Pending> order = new ArrayList<>(pending);
            Collections.shuffle(order, r);
            if (afterTombstone.isPresent()) {
                String prefix = afterTombstone.get().parkedOn.prefix();
                order.sort((x, y) -> Boolean.compare(!x.name().startsWith(prefix), !y.name().startsWith(prefix)));
            }
            int n = Math.min(order.size(), 1 + r.nextInt(4));
            List<String> names = new ArrayList<>();
            for (Pending p : order.subList(0, n)) {
                if (r.nextInt(4) != 0) {
                    pending.remove(p);
                }
                names.add(p.name().substring(run.length() + 1));
                deliver(any(), p);
            }
            trace.add("deliver " + names);
        }

        /** Every pending event, each once or twice, shuffled, from three threads to random instances. */
        void burst() throws Exception {
            List<Pending> deliveries = new ArrayList<>();
            for (Pending p : pending) {
                for (int n = 1 + r.nextInt(2); n > 0; n--) {
                    deliveries.add(p);
                }
            }
            pending.clear();
            Collections.shuffle(deliveries, r);
            List<Instance> targets = new ArrayList<>();
            deliveries.forEach(d -> targets.add(any()));
            List<Future<?>> futures = new ArrayList<>();
            int lanes = 3;
            for (int lane = 0; lane < lanes; lane++) {
                int me = lane;
                futures.add(threads.submit(() -> {
                    for (int i = me; i < deliveries.size(); i += lanes) {
                        deliver(targets.get(i), deliveries.get(i));
                    }
                }));
            }
            for (Future<?> f : futures) {
                f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            }
            trace.add("burst of " + deliveries.size());
        }

        void deliver(Instance i, Pending p) {
            try {
                i.events.handle(p.json());
                synchronized (this) {
                    eventsDelivered++;
                }
            } catch (RuntimeException e) {
                // Event Grid redelivers what the function did not acknowledge.
                synchronized (this) {
                    pending.add(p);
                }
            }
        }

        void drain() {
            for (Instance i : instances) {
                if (!i.app.afterCommit.drain(Duration.ofSeconds(WAIT_SECONDS))) {
                    throw new AssertionError("after-commit work of instance " + i.n + " did not finish");
                }
            }
        }

        /** Resumes what is parked, then delivers every event still owed until storage stops changing. */
        void finish() throws Exception {
            for (Op op : new ArrayList<>(parked)) {
                op.parkAt.clear();
                trace.add("resume " + op);
                resume(op);
            }
            for (Instance i : instances) {
                while (!i.afterCommit.isEmpty()) {
                    start("after-commit@" + i.n, List.of(), i.afterCommit.remove(0));
                }
            }
            drain();
            snapshot();
            for (int round = 0; round < 8 && !pending.isEmpty(); round++) {
                burst();
                drain();
                snapshot();
            }
            if (!pending.isEmpty()) {
                opErrors.add(pending.size() + " events still undelivered");
            }
        }

        // ---- what storage says --------------------------------------------------------------------

        byte[] content(StoredBlob b) {
            return contents.computeIfAbsent(b.name() + "|" + b.etag(),
                    k -> app(0).store.download(b.name()).orElse(new byte[0]));
        }

        /**
         * Lists the run, turns what changed since the last listing into the events Event Grid
         * would send (queued, not delivered), derives every checkpoint from storage alone, and
         * judges every tombstone written since against the plan over that truth.
         */
        void snapshot() {
            List<StoredBlob> listed = app(0).store.list(run + "/", true);
            Map<String, StoredBlob> now = new TreeMap<>();
            listed.forEach(b -> now.put(b.name(), b));
            String account = app(0).storage.blobService().getAccountName();
            for (StoredBlob b : now.values()) {
                StoredBlob before = seen.get(b.name());
                boolean file = !b.name().substring(b.name().lastIndexOf('/') + 1).startsWith("_");
                // An overwritten file is a BlobCreated. App records are written once, so a record
                // whose eTag changed with the same content only had its metadata set (pins, marks,
                // settling), which sends no event; other content means it was written anew.
                boolean written = before == null || (!before.etag().equals(b.etag())
                        && (file || !java.util.Arrays.equals(content(before), content(b))));
                if (!file) {
                    content(b);
                }
                if (written) {
                    pending.add(new Pending(b.name(), EventSamples.created(pending.size() % 2 == 0
                            ? EventSamples.Schema.EVENT_GRID : EventSamples.Schema.CLOUD_EVENTS, account, container,
                            b.name(), b.etag(), b.size(), EventSamples.nextSequencer())));
                }
            }
            for (String gone : new ArrayList<>(seen.keySet())) {
                if (!now.containsKey(gone)) {
                    pending.add(new Pending(gone, EventSamples.deleted(EventSamples.Schema.EVENT_GRID, account,
                            container, gone, EventSamples.nextSequencer())));
                }
            }
            seen.clear();
            seen.putAll(now);
            if (Boolean.getBoolean("concurrency.debugEvents")) {
                trace.add("pending " + pending.stream().map(p -> p.name().substring(run.length() + 1)
                        + (p.json().contains("BlobDeleted") ? "-" : "+")).toList());
            }

            Map<CheckpointId, List<StoredBlob>> byCheckpoint = new TreeMap<>();
            for (StoredBlob b : listed) {
                BlobName name = BlobName.parse(b.name()).orElse(null);
                CheckpointId id = name instanceof BlobName.File f ? f.checkpoint()
                        : name instanceof BlobName.Record rec ? rec.checkpoint() : null;
                if (id != null) {
                    byCheckpoint.computeIfAbsent(id, k -> new ArrayList<>()).add(b);
                }
            }
            Map<Long, Checkpoint> next = new TreeMap<>();
            Map<Long, Tombstone> newTombstones = new TreeMap<>();
            Instant at = Instant.now();
            for (Map.Entry<CheckpointId, List<StoredBlob>> e : byCheckpoint.entrySet()) {
                StepListing l = StepListing.of(e.getKey(), e.getValue());
                long s = e.getKey().step().value();
                Optional<Manifest> manifest = l.manifest() == null ? null
                        : Manifest.parseStored(content(l.manifest()), s);
                CommitRecord record = l.commit() == null ? null : Json.read(content(l.commit()), CommitRecord.class);
                next.put(s, Derivation.derive(l, manifest, record, at,
                        Duration.ofMinutes(policy.incompleteTtlMinutes())).checkpoint());
                if (l.tombstone() != null) {
                    Tombstone t = Json.read(content(l.tombstone()), Tombstone.class);
                    if (!t.deletedAt().equals(tombstoneSeen.get(s))) {
                        tombstoneSeen.put(s, t.deletedAt());
                        newTombstones.put(s, t);
                    }
                }
            }
            if (!newTombstones.isEmpty()) {
                judge(newTombstones, next);
            }
            truth = next;
        }

        /**
         * The plan over storage, as it was while these tombstones were written: every checkpoint
         * as storage has it now, except the newly tombstoned ones, which are taken as they were
         * before (the state their tombstone records). Any checkpoint that plan keeps must not be
         * deleted.
         */
        void judge(Map<Long, Tombstone> tombstones, Map<Long, Checkpoint> next) {
            Map<Long, Checkpoint> view = new TreeMap<>(next);
            tombstones.forEach((s, t) -> {
                Checkpoint before = truth.get(s);
                boolean known = before != null && !before.state().isGone();
                // Committed and tombstoned between two listings: the tombstone's event payload has the rest.
                Instant committedAt = known && before.committedAt() != null ? before.committedAt()
                        : t.event() == null ? null : t.event().committedAt();
                Map<String, Double> metrics = t.event() != null ? t.event().metrics()
                        : known ? before.metrics() : Map.of();
                view.put(s, new Checkpoint(run, s, t.state(), "hot", List.of(), List.of(), List.of(), 0, metrics,
                        known && before.pinned(), known ? before.createdAt() : t.deletedAt(), committedAt,
                        known ? before.lastActivityAt() : t.deletedAt()));
            });
            RetentionPlan plan = RetentionPlanner.plan(List.copyOf(view.values()), policy, Instant.now());
            tombstones.forEach((s, t) -> plan.kept(s).ifPresent(k -> candidates.add(new Candidate(s, t.deletedAt(),
                    k.reasons(), t.reason(), "after operation " + trace.size()))));
        }

        // ---- promises -----------------------------------------------------------------------------

        List<String> check() {
            List<String> problems = new ArrayList<>(opErrors);
            for (Candidate c : candidates) {
                Checkpoint now = truth.get(c.step());
                if (now != null && now.state().isGone() && c.deletedAt().equals(tombstoneSeen.get(c.step()))) {
                    problems.add("step " + c.step() + " deleted (" + c.reason() + ", tombstone " + c.when()
                            + ") though the plan over storage kept it: " + c.keptFor());
                }
            }
            pinAcknowledged.forEach((s, pinned) -> {
                Checkpoint now = truth.get(s);
                if (pinned && (now == null || now.state().isGone() || !now.pinned())) {
                    problems.add("acknowledged pin of step " + s + " lost: " + (now == null ? "gone" : now.state()
                            + (now.pinned() ? "" : ", unpinned")));
                }
            });
            truth.values().stream().filter(c -> c.state() == CheckpointState.DELETING)
                    .forEach(c -> problems.add("step " + c.step() + " left DELETING"));
            Optional<Long> newest = truth.values().stream().filter(c -> c.state() == CheckpointState.COMMITTED)
                    .map(Checkpoint::step).reduce((a, b) -> b);
            Trainer.Call latest = instances.get(0).trainer.latest(run);
            Long answered = latest.status() == 200 ? latest.body().get("step").asLong() : null;
            if (!java.util.Objects.equals(newest.orElse(null), answered)) {
                problems.add("latest answered " + (answered == null ? latest.status() : answered)
                        + " but the highest COMMITTED step in storage is " + newest.orElse(null));
            }
            rebuilt.reindexer.reindex(runId);
            TreeSet<Long> steps = new TreeSet<>();
            app(0).sync.allOfRun(runId).forEach(c -> steps.add(c.step()));
            rebuilt.sync.allOfRun(runId).forEach(c -> steps.add(c.step()));
            for (long s : steps) {
                CheckpointId id = CheckpointId.of(run, s);
                String indexed = app(0).sync.get(id).map(Schedule::view).orElse("no row");
                String fromContainer = rebuilt.sync.get(id).map(Schedule::view).orElse("no row");
                if (!indexed.equals(fromContainer)) {
                    problems.add("index of step " + s + " is " + indexed + ", reindex gives " + fromContainer);
                }
            }
            return problems;
        }

        static String view(Checkpoint c) {
            List<String> files = new ArrayList<>();
            for (FileEntry f : c.files()) {
                files.add(f.path() + ":" + f.size() + ":" + f.etag());
            }
            Collections.sort(files);
            return c.state() + (c.pinned() ? " pinned" : "") + " " + c.tier() + " " + c.bytes() + "B " + files
                    + " missing" + c.missing() + " extra" + c.extra() + " " + new TreeMap<>(c.metrics())
                    + (c.committedAt() == null ? "" : " committed " + c.committedAt().toEpochMilli());
        }

        @Override
        public void close() {
            for (Op op : new ArrayList<>(parked)) {
                op.parkAt.clear();
                op.resume.release();
            }
            threads.shutdown();
            try {
                threads.awaitTermination(WAIT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            threads.shutdownNow();
            try {
                app(0).storage.container().delete();
                app(0).storage.tableService().deleteTable(table);
                app(0).storage.tableService().deleteTable(table + "re");
            } catch (RuntimeException e) {
                System.out.println("cleanup of schedule " + seed + ": " + e.getMessage());
            }
            instances.forEach(i -> i.app.close());
            rebuilt.close();
        }
    }
}
