package dev.ckptvault.local;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.storage.StorageClients;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * {@code scripts/run-local.sh --azure-mode}: the local stack with the settings, identity and
 * protocols Azure gives the app. This process plays the platform:
 *
 * <ul>
 *   <li>a certificate for 127.0.0.1, made at start ({@link LocalTls}), which every endpoint serves;</li>
 *   <li>Azurite over HTTPS with {@code --oauth basic}, for blobs and tables;</li>
 *   <li>the managed identity endpoint of the Functions platform ({@link ManagedIdentityEndpoint}) with
 *       the app's one user-assigned identity ({@link LocalIdentity#APP});</li>
 *   <li>the custom Event Grid topic for outgoing events ({@link EventGridTopic});</li>
 *   <li>Event Grid's blob events: the watcher lists blobs as the storage account's system topic
 *       knows them (with the account key, as Azure's side does) and delivers them to the app's
 *       webhook over HTTPS with the admin key.</li>
 * </ul>
 *
 * The app itself runs in a second process ({@link AppHostMain}) whose environment holds exactly
 * the app settings of infra/ ({@link InfraAppSettings}, with the local equivalents of what only
 * Azure knows) plus IDENTITY_ENDPOINT and IDENTITY_HEADER, and which trusts the certificate as a
 * process in Azure trusts the platform's CAs. A setting infra/ lacks therefore fails the start as
 * it would in Azure.
 */
public final class AzureMode implements AutoCloseable {
    public static final String EVENTS_FILE = "events.jsonl";
    private static final Logger LOG = Logger.getLogger(AzureMode.class.getName());
    /** What the app process inherits of this one's environment: the operating system's basics, nothing of the user's settings. */
    private static final Set<String> INHERITED = Set.of("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TZ",
            "TMPDIR", "JAVA_HOME", "SystemRoot", "SYSTEMROOT", "TEMP", "TMP", "USERPROFILE", "COMSPEC", "PATHEXT");

    private final Path dir;
    private final boolean temporary;
    private LocalTls tls;
    private TokenIssuer issuer;
    private ManagedIdentityEndpoint identity;
    private EventGridTopic topic;
    private AzuriteProcess azurite;
    private Map<String, String> appSettings;
    private Process app;
    private OutputStream appStdin;
    private URI appUrl;
    private BlobEventWatcher watcher;
    private Path adminKeyFile;

    private AzureMode(Path dir, boolean temporary) {
        this.dir = dir;
        this.temporary = temporary;
    }

    /**
     * Starts the platform, then the app. On failure everything started so far is stopped again.
     * Must run before anything in this process uses TLS: it makes the process trust the certificate.
     */
    public static AzureMode start(LocalStack.Options options) throws IOException {
        if (options.forwardTo() != null) {
            throw new IllegalArgumentException("--azure-mode serves the app itself; it cannot be combined with --forward-to");
        }
        boolean temporary = options.dataDir() == null;
        Path dir = temporary ? Files.createTempDirectory("ckptvault-azure-mode")
                : options.dataDir().resolve("azure-mode");
        AzureMode mode = new AzureMode(dir, temporary);
        try {
            mode.startAll(options);
            return mode;
        } catch (IOException | RuntimeException e) {
            mode.close();
            throw e;
        }
    }

    private void startAll(LocalStack.Options options) throws IOException {
        Path infra = options.projectDir().resolve("infra");
        // The settings first, with stand-in addresses, so a setting infra/ lacks stops the start at once.
        checkSettings(InfraAppSettings.resolve(infra, equivalents(URI.create("https://127.0.0.1:1/devstoreaccount1"),
                URI.create("https://127.0.0.1:2/devstoreaccount1"), URI.create("https://127.0.0.1:3/api/events"))));

        tls = LocalTls.create(dir.resolve("tls"), 30);
        Path trustStore = tls.writeTrustStore(dir.resolve("tls").resolve("truststore.p12"));
        // This process talks HTTPS to Azurite and the app too (the watcher, the webhook deliveries).
        System.setProperty("javax.net.ssl.trustStore", trustStore.toString());
        System.setProperty("javax.net.ssl.trustStorePassword", LocalTls.TRUST_STORE_PASSWORD);
        LOG.info("certificate for 127.0.0.1 made: " + tls.certPem() + " (trust it: SSL_CERT_FILE=" + tls.certPem()
                + " for Python, curl --cacert; a Java trust store with it: " + trustStore + ")");

        issuer = new TokenIssuer(Clock.systemUTC());
        identity = new ManagedIdentityEndpoint(LocalIdentity.APP, issuer);
        Path events = dir.resolve(EVENTS_FILE);
        topic = new EventGridTopic(tls.serverContext(), issuer, LocalIdentity.APP, events);
        LOG.info("managed identity endpoint: " + identity.endpoint() + " (user-assigned identity, client id "
                + LocalIdentity.APP.clientId() + ", object id " + LocalIdentity.APP.principalId() + ")");
        LOG.info("event grid topic: " + topic.endpoint() + "; accepted events are appended to " + events);

        azurite = AzuriteProcess.startHttpsOAuth(options.projectDir(), options.dataDir(), tls.certPem(), tls.keyPem());
        LOG.info("Azurite started over HTTPS with bearer tokens (--oauth basic): blob " + azurite.blobEndpoint()
                + ", table " + azurite.tableEndpoint() + (options.dataDir() == null ? " (in memory)"
                : " (data in " + options.dataDir() + ")"));

        // Azure's primaryEndpoints end in "/" on a host of the account's own; Azurite's account is a path
        // segment, after which the Tables SDK would make "//Tables" of a trailing "/", so none here.
        appSettings = InfraAppSettings.resolve(infra, equivalents(URI.create(azurite.blobEndpoint()),
                URI.create(azurite.tableEndpoint()), topic.endpoint()));
        CkptConfig config = checkSettings(appSettings);
        LOG.info("app settings: the " + appSettings.size() + " of ckptAppSettings in " + infra.resolve(
                InfraAppSettings.API_BICEP) + ", with local equivalents for what only Azure knows");

        KeyPolicy keys = LocalStack.keys(options, f -> adminKeyFile = f);
        startApp(options, keys, trustStore);
        startWatcher(config, keys.adminKey(), options.pollInterval());
    }

    private static InfraAppSettings.LocalEquivalents equivalents(URI blob, URI table, URI topic) {
        return new InfraAppSettings.LocalEquivalents(blob, table, LocalIdentity.APP, topic, StorageSettings.EMULATOR_ACCOUNT,
                "local");
    }

    /** The settings as the app reads them; a ConfigException names what is missing or wrong. */
    private static CkptConfig checkSettings(Map<String, String> settings) {
        return CkptConfig.fromMap(settings);
    }

    private void startApp(LocalStack.Options options, KeyPolicy keys, Path trustStore) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Djavax.net.ssl.trustStore=" + trustStore,
                "-Djavax.net.ssl.trustStorePassword=" + LocalTls.TRUST_STORE_PASSWORD,
                "-cp", classpath(), AppHostMain.class.getName(),
                "--port", Integer.toString(options.port()),
                "--cert", tls.certPem().toString(), "--key", tls.keyPem().toString()));
        for (String h : options.allowedHosts()) {
            cmd.addAll(List.of("--allow-host", h));
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        Map<String, String> env = pb.environment();
        Map<String, String> kept = new HashMap<>();
        env.forEach((k, v) -> {
            if (INHERITED.contains(k)) {
                kept.put(k, v);
            }
        });
        env.clear();
        env.putAll(kept);
        env.putAll(appSettings);
        env.putAll(identity.environment());
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        app = pb.start();
        appStdin = app.getOutputStream();
        appStdin.write((keys.adminKey() + "\n" + keys.functionKey().orElse("") + "\n").getBytes(StandardCharsets.UTF_8));
        appStdin.flush();
        CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> readyLine(app));
        try {
            String url = ready.get(180, TimeUnit.SECONDS);
            if (url == null) {
                int code = app.waitFor(30, TimeUnit.SECONDS) ? app.exitValue() : -1;
                throw new IOException("the app did not start (exit " + code + "); its log is above");
            }
            appUrl = URI.create(url);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the app started", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("the app did not start within 180 s: " + e.getMessage(), e);
        }
    }

    private static String readyLine(Process p) {
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                if (line.startsWith(AppHostMain.READY)) {
                    return line.substring(AppHostMain.READY.length()).strip();
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The classpath of this process, for a child JVM; under exec:java (benchmarks) the project's
     * classes come from a URL class loader, not java.class.path.
     */
    public static String classpath() {
        if (Thread.currentThread().getContextClassLoader() instanceof java.net.URLClassLoader loader) {
            StringBuilder cp = new StringBuilder();
            for (java.net.URL url : loader.getURLs()) {
                try {
                    cp.append(cp.length() == 0 ? "" : java.io.File.pathSeparator).append(Path.of(url.toURI()));
                } catch (java.net.URISyntaxException e) {
                    throw new IllegalStateException(e);
                }
            }
            return cp.toString();
        }
        return System.getProperty("java.class.path");
    }

    /** Blob events as Event Grid delivers them: from the account's side, to the app's webhook. */
    private void startWatcher(CkptConfig appConfig, String adminKey, Duration pollInterval) {
        Map<String, String> platform = new LinkedHashMap<>(appSettings);
        platform.keySet().removeIf(k -> k.startsWith("CKPT_STORAGE__"));
        platform.put("CKPT_STORAGE", azurite.connectionString());
        StorageClients storage = new StorageClients(CkptConfig.fromMap(platform));
        IndexStore index = new IndexStore(storage.indexTable());
        Duration urlLifetime = appConfig.maxUrlLifetime();
        watcher = new BlobEventWatcher(storage.container(), storage.blobService().getAccountName(),
                () -> LocalStack.watchList(index, urlLifetime),
                new WebhookForwarder(appUrl, LocalStack.FORWARD_FUNCTION, adminKey), Clock.systemUTC());
        watcher.start(pollInterval);
    }

    /** The app's root, e.g. https://127.0.0.1:7071. */
    public URI url() {
        return appUrl;
    }

    /** The certificate every local endpoint serves; clients trust it (SSL_CERT_FILE, curl --cacert). */
    public Path certificate() {
        return tls.certPem();
    }

    /** The file the topic appends each accepted event to. */
    public Path eventsFile() {
        return dir.resolve(EVENTS_FILE);
    }

    /** The app settings the app process was started with (none of them secret). */
    public Map<String, String> appSettings() {
        return Map.copyOf(appSettings);
    }

    public java.util.Optional<Path> adminKeyFile() {
        return java.util.Optional.ofNullable(adminKeyFile);
    }

    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.close();
            watcher = null;
        }
        if (app != null) {
            try {
                appStdin.close();
            } catch (IOException ignored) {
                // The app is stopped below either way.
            }
            app.destroy();
            try {
                if (!app.waitFor(30, TimeUnit.SECONDS)) {
                    app.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                app.destroyForcibly();
            }
            app = null;
        }
        if (topic != null) {
            topic.close();
            topic = null;
        }
        if (identity != null) {
            identity.close();
            identity = null;
        }
        if (azurite != null) {
            azurite.close();
            azurite = null;
        }
        if (temporary) {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // A temporary folder left behind holds a certificate and events of a stopped run, nothing more.
            }
        }
    }
}
