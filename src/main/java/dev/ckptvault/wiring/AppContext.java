package dev.ckptvault.wiring;

import dev.ckptvault.access.Revocations;
import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.SigningKeyStore;
import dev.ckptvault.commit.BlobEventHandler;
import dev.ckptvault.commit.CheckpointSync;
import dev.ckptvault.commit.CommitLeases;
import dev.ckptvault.commit.CommitService;
import dev.ckptvault.commit.Reindexer;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.events.EventGridOutgoingPublisher;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.functions.BlobEventsFunction;
import dev.ckptvault.functions.BootstrapFunction;
import dev.ckptvault.functions.CommitCheckpointFunction;
import dev.ckptvault.functions.DeleteCheckpointFunction;
import dev.ckptvault.functions.GetCheckpointFunction;
import dev.ckptvault.functions.GetLatestCheckpointFunction;
import dev.ckptvault.functions.GetRunFunction;
import dev.ckptvault.functions.HealthFunction;
import dev.ckptvault.functions.IssueTokenFunction;
import dev.ckptvault.functions.ListCheckpointsFunction;
import dev.ckptvault.functions.ListRunsFunction;
import dev.ckptvault.functions.PinFunction;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.functions.ReindexFunction;
import dev.ckptvault.functions.RequestUploadsFunction;
import dev.ckptvault.functions.RetentionPlanFunction;
import dev.ckptvault.functions.RevokeTokensFunction;
import dev.ckptvault.functions.RotateSigningKeyFunction;
import dev.ckptvault.functions.SweepFunction;
import dev.ckptvault.functions.UnpinFunction;
import dev.ckptvault.health.HealthService;
import dev.ckptvault.health.LastEvent;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.lifecycle.OutgoingEvents;
import dev.ckptvault.lifecycle.RetentionCommitListener;
import dev.ckptvault.lifecycle.RetentionEnforcer;
import dev.ckptvault.lifecycle.RetentionService;
import dev.ckptvault.lifecycle.Sweeper;
import dev.ckptvault.provisioning.ArmConnection;
import dev.ckptvault.provisioning.BootstrapService;
import dev.ckptvault.query.IndexQueries;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.run.RunPolicies;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.storage.AccountKeySasSigner;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.SasSigner;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.storage.UserDelegationSasSigner;
import dev.ckptvault.upload.UploadService;
import dev.ckptvault.upload.WriteGate;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * The composition root: builds every service once from the config, by constructor, and holds
 * the function instances the Java worker asks for through {@link CkptFunctionInstanceInjector}.
 * It owns the thread pools it starts and stops them on {@link #close()}.
 */
public final class AppContext implements AutoCloseable {
    private static final AtomicReference<AppContext> INSTALLED = new AtomicReference<>();

    private final ExecutorService workers;
    private final ExecutorService afterCommitThread;
    private final Map<Class<?>, Object> functions = new LinkedHashMap<>();

    public AppContext(CkptConfig config, Clock clock) {
        this(config, clock, BootstrapService.appIdentity(config));
    }

    /** @param arm how bootstrap reaches Azure Resource Manager (tests point it at a fake) */
    public AppContext(CkptConfig config, Clock clock, Function<String, ArmConnection> arm) {
        StorageClients storage = new StorageClients(config);
        ContainerStore store = new ContainerStore(storage.container());
        SasSigner signer = storage.sharedKey().isPresent()
                ? new AccountKeySasSigner(storage.container(), config.storage())
                : new UserDelegationSasSigner(storage.blobService(), storage.container(), config.storage(),
                        config.maxUrlLifetime(), clock);
        IndexStore index = new IndexStore(storage.indexTable());
        this.workers = Executors.newFixedThreadPool(16, daemonThreads("ckptvault-io"));
        this.afterCommitThread = RetentionCommitListener.background();

        RunRecords runs = new RunRecords(store, index, clock);
        RunPolicies policies = new RunPolicies(runs, RetentionPolicy.of(config.retention()), config.maxUrlLifetime());
        CheckpointSync sync = new CheckpointSync(store, index, new CommitLeases(store, workers), clock,
                policies::incompleteTtl);
        LastEvent lastEvent = new LastEvent();
        OutgoingEventPublisher publisher = config.eventsTopicEndpoint()
                .<OutgoingEventPublisher>map(uri -> new EventGridOutgoingPublisher(uri, config.eventsTopicKey(),
                        config.eventsTopicKey().isPresent() ? null : StorageClients.appIdentity(config.storage()), null))
                .orElse(OutgoingEventPublisher.DISABLED);
        OutgoingEvents outgoing = new OutgoingEvents(publisher, store, config.container(),
                storage.blobService().getAccountUrl());
        UploadService uploads = new UploadService(new WriteGate(store, sync, clock, outgoing::settleDeleted), runs, signer,
                sync, store::deleteWrittenBefore, clock, config.defaultUrlLifetime(), config.maxUrlLifetime(),
                policies::incompleteTtl, workers);
        RetentionService retention = new RetentionService(sync, policies, runs,
                new RetentionEnforcer(store, sync, outgoing, clock, RetentionEnforcer.NONE), outgoing, store, clock);
        sync.addListener(new RetentionCommitListener(outgoing, retention, afterCommitThread));
        IndexQueries queries = new IndexQueries(index, sync, signer, clock, config.defaultUrlLifetime(),
                policies::effective);
        HttpApi http = new HttpApi(config.maxBodyBytes());
        ContainerStore keys = new ContainerStore(storage.keysContainer());
        RunAccess access = new RunAccess(new SigningKeyStore(keys, clock, config.tokenMaxLifetime()),
                new Revocations(keys, clock), clock, config.tokenMaxLifetime());

        add(new HealthFunction(http, new HealthService(store, index::probe, lastEvent::at)));
        add(new RequestUploadsFunction(http, access, uploads, config.maxFilesPerRequest()));
        add(new CommitCheckpointFunction(http, access, new CommitService(store, sync, config.maxFilesPerRequest())));
        add(new ListRunsFunction(http, queries));
        add(new GetRunFunction(http, access, queries));
        add(new ListCheckpointsFunction(http, access, queries));
        add(new GetLatestCheckpointFunction(http, access, queries));
        add(new GetCheckpointFunction(http, access, queries));
        add(new PutRunFunction(http, policies));
        add(new RetentionPlanFunction(http, access, retention));
        add(new PinFunction(http, retention));
        add(new UnpinFunction(http, retention));
        add(new DeleteCheckpointFunction(http, retention));
        add(new ReindexFunction(http, new Reindexer(store, index, sync)));
        add(new BootstrapFunction(http, new BootstrapService(config, storage, arm)));
        add(new IssueTokenFunction(http, access));
        add(new RevokeTokensFunction(http, access));
        add(new RotateSigningKeyFunction(http, access));
        add(new BlobEventsFunction(new BlobEventHandler(storage.blobService().getAccountName(), config.container(),
                index, sync, store, clock, lastEvent::seen)));
        add(new SweepFunction(new Sweeper(sync, runs, retention)));
    }

    private void add(Object function) {
        functions.put(function.getClass(), function);
    }

    /** The process-wide context: the installed one, else built once from the environment. */
    public static AppContext instance() {
        AppContext ctx = INSTALLED.get();
        if (ctx == null) {
            synchronized (AppContext.class) {
                ctx = INSTALLED.get();
                if (ctx == null) {
                    ctx = new AppContext(CkptConfig.fromEnvironment(), Clock.systemUTC());
                    INSTALLED.set(ctx);
                }
            }
        }
        return ctx;
    }

    /** Makes {@code ctx} the process-wide context (a host that builds its own does this before serving). */
    public static void install(AppContext ctx) {
        INSTALLED.set(ctx);
    }

    /** The instance of one function class, as the worker asks for it. */
    public <T> T function(Class<T> type) {
        Object f = functions.get(type);
        if (f == null) {
            throw new IllegalArgumentException("no function class " + type.getName() + " in the composition root");
        }
        return type.cast(f);
    }

    /** Every function class of the app. */
    public Set<Class<?>> functionClasses() {
        return functions.keySet();
    }

    /**
     * Stops the pools this root started. Work after a commit that has not run yet is left to the
     * sweep, as after a crash.
     */
    @Override
    public void close() {
        afterCommitThread.shutdown();
        workers.shutdown();
        try {
            afterCommitThread.awaitTermination(10, TimeUnit.SECONDS);
            workers.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        afterCommitThread.shutdownNow();
        workers.shutdownNow();
        INSTALLED.compareAndSet(this, null);
    }

    private static java.util.concurrent.ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
