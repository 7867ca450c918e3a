package dev.ckptvault.local;

import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.provisioning.LocalBootstrap;
import dev.ckptvault.wiring.AppContext;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.function.Supplier;
import java.util.logging.Logger;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.storage.StorageClients;

/**
 * Everything the local host runs, started in order and stopped in reverse: Azurite (unless
 * CKPT_STORAGE names storage), the composition root, the HTTP host with the app's functions,
 * the timers, and the blob event watcher. With {@code forwardTo} only the watcher runs and POSTs
 * its events to that Functions host (Core Tools).
 */
public final class LocalStack implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(LocalStack.class.getName());
    public static final String DEFAULT_LOCAL_SWEEP = "0 */1 * * * *";
    public static final String FORWARD_FUNCTION = "BlobEvents";

    /**
     * @param port         HTTP port, 0 for any free one
     * @param dataDir      Azurite data folder, null to keep Azurite's data in memory
     * @param forwardTo    a Functions host to POST events to instead of serving, or null
     * @param adminKey     the admin key; empty: the one in {@code dataDir/admin-key}, made at first start
     * @param projectDir   folder with node_modules/azurite
     * @param allowedHosts Host header names answered besides the loopback ones
     */
    public record Options(int port, Path dataDir, URI forwardTo, Optional<String> functionKey,
                          Optional<String> adminKey, Path projectDir, Duration pollInterval, List<String> allowedHosts) {
        public Options {
            allowedHosts = List.copyOf(allowedHosts);
        }

        /** Options without extra allowed hosts. */
        public Options(int port, Path dataDir, URI forwardTo, Optional<String> functionKey, Optional<String> adminKey,
                       Path projectDir, Duration pollInterval) {
            this(port, dataDir, forwardTo, functionKey, adminKey, projectDir, pollInterval, List.of());
        }
    }

    private AzuriteProcess azurite;
    private StorageClients storage;
    private AppContext context;
    private EventGridDispatcher dispatcher;
    private LocalHttpServer server;
    private TimerScheduler timers;
    private BlobEventWatcher watcher;
    private Path adminKeyFile;

    private LocalStack() {
    }

    /** Starts the stack; on failure everything started so far is stopped again. */
    public static LocalStack start(Options options, Map<String, String> environment) throws IOException {
        LocalStack stack = new LocalStack();
        try {
            stack.startAll(options, environment);
            return stack;
        } catch (IOException | RuntimeException e) {
            stack.close();
            throw e;
        }
    }

    private void startAll(Options options, Map<String, String> environment) throws IOException {
        Map<String, String> settings = new HashMap<>(environment);
        String given = settings.get("CKPT_STORAGE");
        boolean identityStorage = settings.get("CKPT_STORAGE__blobServiceUri") != null;
        if ((given == null || given.isBlank()) && !identityStorage) {
            if (options.forwardTo() != null) {
                // Core Tools users run Azurite on its default ports, as local.settings.json says.
                settings.put("CKPT_STORAGE", StorageSettings.DEVELOPMENT_STORAGE);
                LOG.info("CKPT_STORAGE is not set: watching Azurite on its default ports (UseDevelopmentStorage=true)");
            } else {
                azurite = AzuriteProcess.start(options.projectDir(), options.dataDir(), 0, 0);
                settings.put("CKPT_STORAGE", azurite.connectionString());
                LOG.info("Azurite started: blob http://127.0.0.1:" + azurite.blobPort() + ", table http://127.0.0.1:"
                        + azurite.tablePort() + (options.dataDir() == null ? " (in memory)" : " (data in "
                        + options.dataDir() + ")"));
            }
        } else {
            LOG.info("CKPT_STORAGE is set: using that storage, no Azurite started");
        }
        settings.putIfAbsent("CKPT_SWEEP_SCHEDULE", DEFAULT_LOCAL_SWEEP);

        CkptConfig config = CkptConfig.fromMap(settings);
        // The host's own view of the storage: what Azure's side needs (Event Grid's listing, the
        // emulator's provisioning), never reached through the app's composition root.
        storage = new StorageClients(config);
        ensureStorage(storage, config);
        context = new AppContext(config, Clock.systemUTC());
        AppContext.install(context);

        EventSink sink;
        if (options.forwardTo() != null) {
            sink = new WebhookForwarder(options.forwardTo(), FORWARD_FUNCTION, null);
            LOG.info("forwarding blob events to " + options.forwardTo() + EventGridWebhook.PATH
                    + "?functionName=" + FORWARD_FUNCTION);
        } else {
            FunctionInstanceInjector injector = ServiceLoader.load(FunctionInstanceInjector.class).findFirst()
                    .orElseThrow(() -> new IllegalStateException(
                            "no FunctionInstanceInjector registered in META-INF/services"));
            FunctionHost host = FunctionHost.load(context.functionClasses(), injector, settings);
            dispatcher = new EventGridDispatcher(host, 8);
            server = new LocalHttpServer(host, new EventGridWebhook(dispatcher), keys(options, f -> adminKeyFile = f),
                    HostPolicy.loopbackAnd(options.allowedHosts()), options.port(), 32, config.maxBodyBytes());
            timers = new TimerScheduler(host, Clock.systemUTC());
            sink = new InProcessEventSink(dispatcher);
        }
        IndexStore index = new IndexStore(storage.indexTable());
        Duration urlLifetime = config.maxUrlLifetime();
        watcher = new BlobEventWatcher(storage.container(), storage.blobService().getAccountName(),
                () -> watchList(index, urlLifetime), sink, Clock.systemUTC());
        if (server != null) {
            server.start();
            timers.start();
        }
        watcher.start(options.pollInterval());
    }

    /**
     * Keys as Azure's host checks them; the admin key given, else the development key file's.
     *
     * @param keptIn told the key file's path when the key comes from one
     */
    static KeyPolicy keys(Options options, java.util.function.Consumer<Path> keptIn) throws IOException {
        if (options.adminKey().isPresent()) {
            LOG.info("admin key: the one given with --admin-key");
            return new KeyPolicy(options.functionKey(), options.adminKey().get());
        }
        AdminKeyFile.Resolved r = AdminKeyFile.resolve(options.dataDir());
        keptIn.accept(r.file());
        // Where, never what: the key stays in the owner-only file.
        LOG.info("admin key: " + (r.created() ? "made and kept in " : "read from ") + r.file()
                + " (owner-only; send it as x-functions-key on admin routes, or pass --admin-key)");
        return new KeyPolicy(options.functionKey(), r.key());
    }

    /** The file holding the development admin key, when the stack made or read one. */
    public Optional<Path> adminKeyFile() {
        return Optional.ofNullable(adminKeyFile);
    }

    /**
     * What the watcher lists: open checkpoints, and those committed within the longest URL
     * lifetime, since only a write URL issued before a commit can still change a committed file
     * (break its lease, overwrite); later ones are immutable for storage's own reasons.
     */
    static List<dev.ckptvault.layout.CheckpointId> watchList(IndexStore index, Duration urlLifetime) {
        java.util.LinkedHashSet<dev.ckptvault.layout.CheckpointId> ids = new java.util.LinkedHashSet<>(index.open());
        ids.addAll(index.committedSince(java.time.Instant.now().minus(urlLifetime)));
        return List.copyOf(ids);
    }

    /**
     * Bootstrap's local mode on an emulator (it starts empty): the containers and the index table.
     * A real account is provisioned by bootstrap with the operator's credentials, not here.
     */
    static void ensureStorage(StorageClients storage, CkptConfig config) {
        if (config.storage().isEmulator()) {
            new LocalBootstrap(storage, config).run();
        }
    }

    /** The HTTP port, or -1 in forwarding mode. */
    public int port() {
        return server == null ? -1 : server.port();
    }

    public AppContext context() {
        return context;
    }

    public BlobEventWatcher watcher() {
        return watcher;
    }

    /** Connection string of the Azurite this stack started, if it started one. */
    public Optional<String> azuriteConnectionString() {
        return Optional.ofNullable(azurite).map(AzuriteProcess::connectionString);
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.close();
            watcher = null;
        }
        if (timers != null) {
            timers.close();
            timers = null;
        }
        if (server != null) {
            server.close();
            server = null;
        }
        if (dispatcher != null) {
            dispatcher.close();
            dispatcher = null;
        }
        if (context != null) {
            context.close();
            context = null;
        }
        if (azurite != null) {
            azurite.close();
            azurite = null;
        }
    }
}
