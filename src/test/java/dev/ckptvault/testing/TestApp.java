package dev.ckptvault.testing;

import dev.ckptvault.access.Revocations;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.SigningKeyStore;
import dev.ckptvault.commit.BlobEventHandler;
import dev.ckptvault.commit.CheckpointSync;
import dev.ckptvault.commit.CommitLeases;
import dev.ckptvault.commit.CommitService;
import dev.ckptvault.commit.Reindexer;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.health.HealthService;
import dev.ckptvault.health.LastEvent;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.lifecycle.OutgoingEvents;
import dev.ckptvault.lifecycle.RetentionCommitListener;
import dev.ckptvault.lifecycle.RetentionEnforcer;
import dev.ckptvault.lifecycle.RetentionService;
import dev.ckptvault.lifecycle.Sweeper;
import dev.ckptvault.query.IndexQueries;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.run.RunPolicies;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.storage.AccountKeySasSigner;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.SasSigner;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.upload.UploadService;
import dev.ckptvault.upload.WriteGate;
import java.lang.reflect.Constructor;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One app instance's units against one storage account, each built by its constructor from the
 * ones below it, for tests that drive a unit directly. Two of these on one account behave like
 * two app instances. Function instances are made from these units on demand, their constructor
 * arguments found by type, so a test calls a function exactly as the worker would.
 */
public final class TestApp implements AutoCloseable {
    public final CkptConfig config;
    public final Clock clock;
    public final StorageClients storage;
    public final ContainerStore store;
    public final IndexStore index;
    public final SasSigner signer;
    public final RunRecords runs;
    public final RunPolicies policies;
    public final CheckpointSync sync;
    public final UploadService uploads;
    public final CommitService commits;
    public final IndexQueries queries;
    public final OutgoingEvents outgoing;
    public final RetentionEnforcer enforcer;
    public final RetentionService retention;
    public final RetentionCommitListener afterCommit;
    public final Sweeper sweeper;
    public final LastEvent lastEvent = new LastEvent();
    public final BlobEventHandler events;
    public final Reindexer reindexer;
    public final ContainerStore keys;
    public final SigningKeyStore signingKeys;
    public final Revocations revocations;
    public final RunAccess access;
    private final ExecutorService pool = Executors.newFixedThreadPool(8);
    private final ExecutorService afterCommitThread = RetentionCommitListener.background();
    private final Map<Class<?>, Object> functions = new ConcurrentHashMap<>();
    private final List<Object> parts = new ArrayList<>();

    public TestApp(CkptConfig config, Clock clock, OutgoingEventPublisher publisher) {
        this.config = config;
        this.clock = clock;
        storage = new StorageClients(config);
        store = new ContainerStore(storage.container());
        index = new IndexStore(storage.indexTable());
        signer = new AccountKeySasSigner(storage.container(), config.storage());
        runs = new RunRecords(store, index, clock);
        policies = new RunPolicies(runs, RetentionPolicy.of(config.retention()), config.maxUrlLifetime());
        sync = new CheckpointSync(store, index, new CommitLeases(store, pool), clock, policies::incompleteTtl);
        outgoing = new OutgoingEvents(publisher, store, config.container(), storage.blobService().getAccountUrl());
        uploads = new UploadService(new WriteGate(store, sync, clock, outgoing::settleDeleted), runs, signer, sync,
                store::deleteWrittenBefore, clock, config.defaultUrlLifetime(), config.maxUrlLifetime(),
                policies::incompleteTtl, pool);
        commits = new CommitService(store, sync, config.maxFilesPerRequest());
        queries = new IndexQueries(index, sync, signer, clock, config.defaultUrlLifetime(), policies::effective);
        enforcer = enforcer(RetentionEnforcer.NONE);
        retention = new RetentionService(sync, policies, runs, enforcer, outgoing, store, clock);
        afterCommit = new RetentionCommitListener(outgoing, retention, afterCommitThread);
        sync.addListener(afterCommit);
        sweeper = new Sweeper(sync, runs, retention);
        events = new BlobEventHandler(storage.blobService().getAccountName(), config.container(), index, sync, store,
                clock, lastEvent::seen);
        reindexer = new Reindexer(store, index, sync);
        keys = new ContainerStore(storage.keysContainer());
        signingKeys = new SigningKeyStore(keys, clock, config.tokenMaxLifetime());
        revocations = new Revocations(keys, clock);
        access = new RunAccess(signingKeys, revocations, clock, config.tokenMaxLifetime());
        parts.addAll(List.of(config, clock, storage, store, index, signer, runs, policies, sync, uploads, commits,
                queries, outgoing, retention, sweeper, events, reindexer, access, new HttpApi(config.maxBodyBytes()),
                new HealthService(store, index::probe, lastEvent::at)));
    }

    /** An enforcer of this instance whose fault points a test chooses (crash injection). */
    public RetentionEnforcer enforcer(RetentionEnforcer.Faults faults) {
        return new RetentionEnforcer(store, sync, outgoing, clock, faults);
    }

    /** The function instance of this app instance, made from its units as the composition root would. */
    public <T> T function(Class<T> type) {
        return type.cast(functions.computeIfAbsent(type, this::make));
    }

    private Object make(Class<?> type) {
        Constructor<?> c = type.getConstructors()[0];
        Object[] args = new Object[c.getParameterCount()];
        Class<?>[] types = c.getParameterTypes();
        for (int i = 0; i < args.length; i++) {
            args[i] = types[i] == int.class ? config.maxFilesPerRequest() : part(types[i], type);
        }
        try {
            return c.newInstance(args);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot make " + type.getName(), e);
        }
    }

    private Object part(Class<?> wanted, Class<?> forType) {
        return parts.stream().filter(wanted::isInstance).findFirst().orElseThrow(() -> new IllegalStateException(
                forType.getSimpleName() + " needs a " + wanted.getSimpleName() + " this test app does not build"));
    }

    /** Returns once the after-commit work queued so far has run: its one thread takes a marker queued behind it. */
    public void awaitAfterCommit() throws Exception {
        afterCommitThread.submit(() -> { }).get(1, java.util.concurrent.TimeUnit.MINUTES);
    }

    @Override
    public void close() {
        afterCommitThread.shutdownNow();
        pool.shutdownNow();
    }
}
