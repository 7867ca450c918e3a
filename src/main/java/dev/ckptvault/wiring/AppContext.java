package dev.ckptvault.wiring;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.functions.BootstrapFunction;
import dev.ckptvault.functions.HealthFunction;
import dev.ckptvault.functions.RequestUploadsFunction;
import dev.ckptvault.health.HealthService;
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
        boolean httpsOnly = !config.storage().isEmulator();
        this.signer = storage.sharedKey().isPresent()
                ? new AccountKeySasSigner(storage.container(), httpsOnly)
                : new UserDelegationSasSigner(storage.blobService(), storage.container(), httpsOnly,
                        config.maxUrlLifetime(), clock);

        HttpApi http = new HttpApi(config.maxBodyBytes());
        RunRecords runs = new RunRecords(store, clock);
        this.uploads = new UploadService(new WriteGate(store, clock), runs, signer, clock,
                config.defaultUrlLifetime(), config.maxUrlLifetime(),
                Duration.ofMinutes(config.retention().incompleteTtlMinutes()));
        HealthService health = new HealthService(store, () -> Optional.ofNullable(lastEventSeen.get()));

        functions.put(HealthFunction.class, new HealthFunction(http, health));
        functions.put(RequestUploadsFunction.class,
                new RequestUploadsFunction(http, uploads, config.maxFilesPerRequest()));
        functions.put(BootstrapFunction.class,
                new BootstrapFunction(http, new BootstrapService(config, storage, arm)));
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

    /** Called by event sources so /health can say when an event last arrived. */
    public void eventSeen(Instant at) {
        lastEventSeen.accumulateAndGet(at, (a, b) -> a == null || b.isAfter(a) ? b : a);
    }
}
