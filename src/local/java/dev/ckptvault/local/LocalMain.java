package dev.ckptvault.local;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;

/**
 * {@code scripts/run-local.sh} / {@code mvn -Plocal ... exec:java}: runs the app's functions
 * locally without Core Tools and prints one line {@code ckptvault ready on http://127.0.0.1:PORT}
 * on standard output when it serves (in Azure mode first {@code ckptvault certificate: PATH}, then
 * {@code ckptvault ready on https://127.0.0.1:PORT}). Logs go to standard error. Stops Azurite and
 * itself on SIGTERM or Ctrl-C.
 *
 * <pre>
 *   --port N            HTTP port (default 7071; 0 = any free port)
 *   --data DIR          Azurite data folder (default .azurite, git-ignored); --data :memory: keeps none
 *   --forward-to URL    Core Tools mode: only watch blobs and POST events to URL's Event Grid webhook
 *   --admin-key K       the admin (master) key: ADMIN routes (runs, policies, pins, deletes, tokens,
 *                       bootstrap, reindex, key rotation) and the Event Grid webhook need it. Without
 *                       it a development key is made at first start and kept in DIR/admin-key (owner
 *                       only; a temporary file with --data :memory:); the log says where, never what.
 *   --function-key K    a function key, as Azure's host has one (no route of this app accepts it)
 *   --allow-host NAME   answer requests for Host NAME too (default: 127.0.0.1, localhost, [::1] only)
 *   --poll-ms N         event watcher poll interval (default 1000)
 *   --azure-mode        run as Azure runs the app ({@link AzureMode}): HTTPS everywhere with a certificate
 *                       made at start (its path is printed first), Azurite with bearer tokens, a managed
 *                       identity endpoint, a local Event Grid topic, and the app in its own process with
 *                       exactly infra/'s app settings
 * </pre>
 * Token routes always need a run token (Authorization: Bearer), as in Azure: an admin issues one
 * with POST /api/manage/runs/{runId}/tokens. Settings come from the environment (CKPT_*);
 * CKPT_STORAGE set: no Azurite is started.
 */
public final class LocalMain {
    public static final String AZURE_MODE = "--azure-mode";
    /** The line Azure mode prints before the ready line: the certificate clients must trust. */
    public static final String CERTIFICATE = "ckptvault certificate: ";

    private LocalMain() {
    }

    public static void main(String[] args) throws Exception {
        LocalDefaults.httpClientKeepAlive();
        // One line per log record, on stderr: standard output carries only the ready line.
        System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
        java.util.List<String> rest = new java.util.ArrayList<>(java.util.List.of(args));
        boolean azureMode = rest.remove(AZURE_MODE);
        LocalStack.Options options;
        try {
            options = parse(rest.toArray(String[]::new));
            if (azureMode && options.forwardTo() != null) {
                throw new IllegalArgumentException(AZURE_MODE + " serves the app itself; drop --forward-to");
            }
        } catch (IllegalArgumentException e) {
            System.err.println("ckptvault local: " + e.getMessage());
            System.err.println("usage: run-local.sh [--azure-mode] [--port N] [--data DIR] [--forward-to URL] "
                    + "[--admin-key K] [--function-key K] [--allow-host NAME]... [--poll-ms N]");
            System.exit(2);
            return;
        }
        if (azureMode) {
            runAzureMode(options);
            return;
        }
        LocalStack stack;
        try {
            stack = LocalStack.start(options, System.getenv());
        } catch (Exception e) {
            System.err.println("ckptvault local: could not start: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stack.close();
            stopped.countDown();
        }, "shutdown"));
        if (stack.port() > 0) {
            System.out.println("ckptvault ready on http://127.0.0.1:" + stack.port());
        } else {
            System.out.println("ckptvault forwarding blob events to " + options.forwardTo());
        }
        System.out.flush();
        stopped.await();
    }

    private static void runAzureMode(LocalStack.Options options) throws InterruptedException {
        AzureMode mode;
        try {
            mode = AzureMode.start(options);
        } catch (Exception e) {
            System.err.println("ckptvault local: could not start in Azure mode: " + e.getMessage());
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            mode.close();
            stopped.countDown();
        }, "shutdown"));
        System.out.println(CERTIFICATE + mode.certificate());
        System.out.println("ckptvault ready on " + mode.url());
        System.out.flush();
        stopped.await();
    }

    static LocalStack.Options parse(String[] args) {
        int port = 7071;
        Path projectDir = Path.of(System.getProperty("ckptvault.projectDir", System.getProperty("user.dir")));
        Path data = projectDir.resolve(".azurite");
        URI forwardTo = null;
        String functionKey = null;
        String adminKey = null;
        long pollMs = 1000;
        java.util.List<String> allowedHosts = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--help") || a.equals("-h")) {
                throw new IllegalArgumentException("help");
            }
            if (i + 1 >= args.length) {
                throw new IllegalArgumentException(a + " needs a value");
            }
            String v = args[++i];
            switch (a) {
                case "--port" -> port = integer(a, v, 0, 65535);
                case "--data" -> data = v.equals(":memory:") ? null : Path.of(v).toAbsolutePath();
                case "--forward-to" -> {
                    forwardTo = URI.create(v);
                    if (forwardTo.getScheme() == null || forwardTo.getHost() == null) {
                        throw new IllegalArgumentException("--forward-to needs a URL such as http://127.0.0.1:7071");
                    }
                }
                case "--function-key" -> functionKey = v;
                case "--admin-key" -> adminKey = v;
                case "--poll-ms" -> pollMs = integer(a, v, 50, 3_600_000);
                case "--allow-host" -> {
                    HostPolicy.loopbackAnd(java.util.List.of(v));
                    allowedHosts.add(v);
                }
                default -> throw new IllegalArgumentException("unknown option " + a);
            }
        }
        return new LocalStack.Options(port, data, forwardTo, Optional.ofNullable(functionKey),
                Optional.ofNullable(adminKey), projectDir, Duration.ofMillis(pollMs), allowedHosts);
    }

    private static int integer(String name, String v, int min, int max) {
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw new IllegalArgumentException(name + " must be between " + min + " and " + max);
            }
            return n;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a number, got '" + v + "'");
        }
    }
}
