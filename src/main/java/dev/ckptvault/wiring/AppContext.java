package dev.ckptvault.wiring;

import dev.ckptvault.commit.CheckpointSync;
import dev.ckptvault.commit.CommitLeases;
import dev.ckptvault.commit.CommitService;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.functions.BootstrapFunction;
import dev.ckptvault.events.BlobEventHandler;
import dev.ckptvault.functions.BlobEventsFunction;
import dev.ckptvault.functions.CommitCheckpointFunction;
import dev.ckptvault.functions.GetCheckpointFunction;
import dev.ckptvault.functions.GetLatestCheckpointFunction;
import dev.ckptvault.functions.GetRunFunction;
import dev.ckptvault.functions.ListCheckpointsFunction;
import dev.ckptvault.functions.ListRunsFunction;
import dev.ckptvault.functions.ReindexFunction;
import dev.ckptvault.index.IndexQueries;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.index.Reindexer;
import dev.ckptvault.storage.BlobDeletes;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import dev.ckptvault.functions.HealthFunction;
import dev.ckptvault.functions.RequestUploadsFunction;
import dev.ckptvault.health.HealthService;
import com.azure.storage.blob.batch.BlobBatchClientBuilder;
import dev.ckptvault.events.EventGridOutgoingPublisher;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.events.OutgoingEvents;
import dev.ckptvault.functions.DeleteCheckpointFunction;
import dev.ckptvault.functions.PinFunction;
import dev.ckptvault.functions.PutRunFunction;
import dev.ckptvault.functions.RetentionPlanFunction;
import dev.ckptvault.functions.SweepFunction;
import dev.ckptvault.functions.UnpinFunction;
import dev.ckptvault.retention.RetentionCommitListener;
import dev.ckptvault.retention.RetentionEnforcer;
import dev.ckptvault.retention.RetentionPolicy;
import dev.ckptvault.retention.RetentionService;
import dev.ckptvault.retention.RunPolicies;
import dev.ckptvault.retention.Sweeper;
import dev.ckptvault.http.HttpApi;
import dev.ckptvault.provisioning.ArmConnection;
import dev.ckptvault.provisioning.BootstrapService;
import dev.ckptvault.run.RunRecords;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.upload.AccountKeySasSigner;
import dev.ckptvault.upload.SasSigner;
import dev.ckptvault.upload.UploadService;
import dev.ckptvault.upload.UserDelegationSasSigner;
import dev.ckptvault.upload.WriteGate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The composition root: builds every service once from the config and hands out the function
 * instances. The Java worker reaches it through {@link CkptFunctionInstanceInjector}; the local
 * host and tests build their own from a settings map.
 */
public final class AppContext {
    private static final AtomicReference<AppContext> INSTALLED = new AtomicReference<>();

    private final CkptConfig config;
    private final Clock clock;
    private final StorageClients storage;
    private final ContainerStore store;
    private final SasSigner signer;
    private final UploadService uploads;
    private final IndexStore indexStore;
    private final ExecutorService workers;
    private final CheckpointSync sync;
    private final BlobDeletes deletes;
    private final CommitService commits;
    private final IndexQueries queries;
    private final Reindexer reindexer;
    private final BlobEventHandler events;
    private final RunPolicies runPolicies;
    private final OutgoingEvents outgoing;
    private final RetentionService retention;
    private final Sweeper sweeper;
    private final RetentionCommitListener afterCommit;
    private final AtomicReference<Instant> lastEventSeen = new AtomicReference<>();
    private final Map<Class<?>, Object> functions = new LinkedHashMap<>();

    public AppContext(CkptConfig config, Clock clock) {
        this(config, clock, BootstrapService.appIdentity(config));
    }

    /** @param arm how bootstrap reaches Azure Resource Manager (tests point it at a fake) */
    public AppContext(CkptConfig config, Clock clock, Function<String, ArmConnection> arm) {
        this.config = config;
        this.clock = clock;
        this.storage = new StorageClients(config);
        this.store = new ContainerStore(storage.container());
        this.signer = storage.sharedKey().isPresent()
                ? new AccountKeySasSigner(storage.container(), config.storage())
                : new UserDelegationSasSigner(storage.blobService(), storage.container(), config.storage(),
                        config.maxUrlLifetime(), clock);

        HttpApi http = new HttpApi(config.maxBodyBytes());
        this.indexStore = new IndexStore(storage.indexTable());
        this.workers = Executors.newFixedThreadPool(16, daemonThreads("ckptvault-io"));
        RunRecords runs = new RunRecords(store, indexStore, clock);
        this.runPolicies = new RunPolicies(runs, RetentionPolicy.of(config.retention()));
        this.sync = new CheckpointSync(store, indexStore, new CommitLeases(storage.container(), workers), clock,
                runPolicies::incompleteTtl);
        this.deletes = new BlobDeletes(storage.container());
        this.uploads = new UploadService(new WriteGate(store, clock), runs, signer, sync, deletes::delete, clock,
                config.defaultUrlLifetime(), config.maxUrlLifetime(), runPolicies::incompleteTtl);
        HealthService health = new HealthService(store, indexStore::probe,
                () -> Optional.ofNullable(lastEventSeen.get()));
        this.commits = new CommitService(store, sync, config.maxFilesPerRequest());
        this.queries = new IndexQueries(indexStore, sync, signer, clock, config.defaultUrlLifetime(),
                runPolicies::effective);
        this.reindexer = new Reindexer(store, indexStore, sync);
        this.events = new BlobEventHandler(storage.blobService().getAccountName(), config.container(), indexStore,
                sync, store, clock, this::eventSeen);

        OutgoingEventPublisher publisher = config.eventsTopicEndpoint()
                .<OutgoingEventPublisher>map(uri -> new EventGridOutgoingPublisher(uri, config.eventsTopicKey(), null))
                .orElse(OutgoingEventPublisher.DISABLED);
        this.outgoing = new OutgoingEvents(publisher, store, config.container(),
                storage.blobService().getAccountUrl());
        RetentionEnforcer enforcer = new RetentionEnforcer(new BlobBatchClientBuilder(storage.container()).buildClient(),
                store, sync, outgoing, clock, RetentionEnforcer.NONE);
        this.retention = new RetentionService(sync, runPolicies, runs, enforcer, outgoing, store, clock);
        this.sweeper = new Sweeper(sync, runs, retention);
        this.afterCommit = new RetentionCommitListener(outgoing, retention, RetentionCommitListener.background());
        sync.addListener(afterCommit);

        functions.put(HealthFunction.class, new HealthFunction(http, health));
        functions.put(RequestUploadsFunction.class,
                new RequestUploadsFunction(http, uploads, config.maxFilesPerRequest()));
        functions.put(BootstrapFunction.class,
                new BootstrapFunction(http, new BootstrapService(config, storage, arm)));
        functions.put(CommitCheckpointFunction.class, new CommitCheckpointFunction(http, commits));
        functions.put(ListRunsFunction.class, new ListRunsFunction(http, queries));
        functions.put(GetRunFunction.class, new GetRunFunction(http, queries));
        functions.put(ListCheckpointsFunction.class, new ListCheckpointsFunction(http, queries));
        functions.put(GetLatestCheckpointFunction.class, new GetLatestCheckpointFunction(http, queries));
        functions.put(GetCheckpointFunction.class, new GetCheckpointFunction(http, queries));
        functions.put(ReindexFunction.class, new ReindexFunction(http, reindexer));
        functions.put(BlobEventsFunction.class, new BlobEventsFunction(events));
        functions.put(PutRunFunction.class, new PutRunFunction(http, runPolicies));
        functions.put(RetentionPlanFunction.class, new RetentionPlanFunction(http, retention));
        functions.put(PinFunction.class, new PinFunction(http, retention));
        functions.put(UnpinFunction.class, new UnpinFunction(http, retention));
        functions.put(DeleteCheckpointFunction.class, new DeleteCheckpointFunction(http, retention));
        functions.put(SweepFunction.class, new SweepFunction(sweeper));
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

    /** Makes {@code ctx} the process-wide context (the local host does this before serving). */
    public static void install(AppContext ctx) {
        INSTALLED.set(ctx);
    }

    public <T> T function(Class<T> type) {
        Object f = functions.get(type);
        if (f == null) {
            throw new IllegalArgumentException("no function class " + type.getName() + " in the composition root");
        }
        return type.cast(f);
    }

    public java.util.Set<Class<?>> functionClasses() {
        return functions.keySet();
    }

    public CkptConfig config() {
        return config;
    }

    public Clock clock() {
        return clock;
    }

    public StorageClients storage() {
        return storage;
    }

    public ContainerStore store() {
        return store;
    }

    public SasSigner signer() {
        return signer;
    }

    public UploadService uploadService() {
        return uploads;
    }

    public IndexStore indexStore() {
        return indexStore;
    }

    /** The index: the one place that syncs checkpoints with storage and commits them. */
    public CheckpointSync index() {
        return sync;
    }

    public BlobDeletes deletes() {
        return deletes;
    }

    public CommitService commitService() {
        return commits;
    }

    public IndexQueries queries() {
        return queries;
    }

    public Reindexer reindexer() {
        return reindexer;
    }

    public BlobEventHandler blobEvents() {
        return events;
    }

    public RunPolicies runPolicies() {
        return runPolicies;
    }

    public OutgoingEvents outgoingEvents() {
        return outgoing;
    }

    public RetentionService retention() {
        return retention;
    }

    public Sweeper sweeper() {
        return sweeper;
    }

    /** Retention and CheckpointCommitted after each commit, off the committer's thread. */
    public RetentionCommitListener afterCommit() {
        return afterCommit;
    }

    /** Shared pool for parallel storage calls (leases, batch work). */
    public ExecutorService workers() {
        return workers;
    }

    private static ThreadFactory daemonThreads(String name) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** Called by event sources so /health can say when an event last arrived. */
    public void eventSeen(Instant at) {
        lastEventSeen.accumulateAndGet(at, (a, b) -> a == null || b.isAfter(a) ? b : a);
    }
}
