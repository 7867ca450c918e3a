package dev.ckptvault.local;

import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.wiring.AppContext;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.logging.Logger;

/**
 * The Functions host of Azure mode, in a process of its own that {@link AzureMode} starts, so the
 * app runs as it does in Azure: its environment holds exactly infra/'s app settings and the
 * platform's IDENTITY_ENDPOINT/IDENTITY_HEADER (the Azure SDK's managed identity code reads the
 * process environment itself), and its function instances come from the app's own
 * FunctionInstanceInjector, which builds the app from that environment as the Java worker does.
 * It serves HTTPS, runs the timers and takes blob events on its Event Grid webhook.
 *
 * <pre>
 *   java AppHostMain --port N --cert CERT.pem --key KEY.pem [--allow-host NAME]...
 *   standard input: the admin key, then the function key (empty line: none), then held open;
 *                   its end means the platform is gone, and the host stops
 *   standard output: "ckptvault app host ready on https://127.0.0.1:PORT"
 * </pre>
 */
public final class AppHostMain {
    static final String READY = "ckptvault app host ready on ";
    private static final Logger LOG = Logger.getLogger(AppHostMain.class.getName());

    private AppHostMain() {
    }

    public static void main(String[] args) throws Exception {
        LocalDefaults.httpClientKeepAlive();
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        int port = 0;
        Path cert = null;
        Path key = null;
        List<String> allowedHosts = new ArrayList<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[i + 1]);
                case "--cert" -> cert = Path.of(args[i + 1]);
                case "--key" -> key = Path.of(args[i + 1]);
                case "--allow-host" -> allowedHosts.add(args[i + 1]);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (cert == null || key == null) {
            throw new IllegalArgumentException("--cert and --key are required");
        }
        // Secrets come on standard input, never on the command line where any process can read them.
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String adminKey = in.readLine();
        String functionKey = in.readLine();
        if (adminKey == null || adminKey.isBlank() || functionKey == null) {
            System.err.println("ckptvault app host: expected the admin key and the function key on standard input");
            System.exit(2);
            return;
        }

        Host host;
        try {
            host = start(port, LocalTls.load(cert, key), new KeyPolicy(
                    functionKey.isBlank() ? Optional.empty() : Optional.of(functionKey), adminKey),
                    HostPolicy.loopbackAnd(allowedHosts));
        } catch (Exception e) {
            LOG.log(java.util.logging.Level.SEVERE, "the app did not start", e);
            System.err.println("ckptvault app host: could not start: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            host.close();
            stopped.countDown();
        }, "shutdown"));
        System.out.println(READY + host.server.scheme() + "://127.0.0.1:" + host.server.port());
        System.out.flush();
        Thread platform = new Thread(() -> {
            try {
                while (in.readLine() != null) {
                    // Nothing else is sent; the line only keeps the pipe open.
                }
            } catch (IOException ignored) {
                // A broken pipe means the same as its end.
            }
            LOG.info("the platform process is gone: stopping");
            System.exit(0);
        }, "platform-watch");
        platform.setDaemon(true);
        platform.start();
        stopped.await();
    }

    private record Host(AppContext context, EventGridDispatcher dispatcher, LocalHttpServer server,
                        TimerScheduler timers) implements AutoCloseable {
        @Override
        public void close() {
            timers.close();
            server.close();
            dispatcher.close();
            context.close();
        }
    }

    private static Host start(int port, LocalTls tls, KeyPolicy keys, HostPolicy hosts) throws IOException {
        CkptConfig config = CkptConfig.fromEnvironment();
        LOG.info("app settings from the environment: " + config);
        // Bootstrap's local mode, with the app's own identity: the containers and the index table.
        LocalStack.ensureStorage(new StorageClients(config), config);
        FunctionInstanceInjector injector = ServiceLoader.load(FunctionInstanceInjector.class).findFirst()
                .orElseThrow(() -> new IllegalStateException("no FunctionInstanceInjector registered in META-INF/services"));
        // The worker's path: the injector builds the composition root from the environment.
        AppContext context = AppContext.instance();
        FunctionHost functions = FunctionHost.load(context.functionClasses(), injector, System.getenv());
        EventGridDispatcher dispatcher = new EventGridDispatcher(functions, 8);
        LocalHttpServer server = new LocalHttpServer(functions, new EventGridWebhook(dispatcher), keys, hosts, port, 32,
                config.maxBodyBytes(), tls.serverContext());
        TimerScheduler timers = new TimerScheduler(functions, Clock.systemUTC());
        server.start();
        timers.start();
        return new Host(context, dispatcher, server, timers);
    }
}
