package dev.ckptvault.local;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.ckptvault.config.StorageSettings;

/**
 * Azurite from the project's node_modules, started on ports the OS picks (port 0) and read back
 * from its own startup lines, so two runs never race for a port.
 */
public final class AzuriteProcess implements AutoCloseable {
    private static final Pattern LISTENING =
            Pattern.compile("Azurite (Blob|Queue|Table) service is successfully listening at https?://[^:]+:(\\d+)");

    private final Process process;
    private final int blobPort;
    private final int tablePort;
    private final String scheme;

    private AzuriteProcess(Process process, int blobPort, int tablePort, String scheme) {
        this.process = process;
        this.blobPort = blobPort;
        this.tablePort = tablePort;
        this.scheme = scheme;
    }

    /**
     * Starts Azurite.
     *
     * @param projectDir folder holding node_modules/azurite
     * @param location   data folder, or null to keep everything in memory
     * @param blobPort   0 for any free port
     */
    public static AzuriteProcess start(Path projectDir, Path location, int blobPort, int tablePort)
            throws IOException {
        return launch(projectDir, location, blobPort, tablePort, List.of(), "http");
    }

    /**
     * Starts an in-memory Azurite on free ports that serves HTTPS with the given PEM certificate
     * and key and accepts bearer tokens ({@code --oauth basic}): Azurite hands out user delegation
     * keys only to a bearer-token caller, and it takes bearer tokens only over HTTPS.
     */
    public static AzuriteProcess startHttpsOAuth(Path projectDir, Path certPem, Path keyPem) throws IOException {
        return startHttpsOAuth(projectDir, null, certPem, keyPem);
    }

    /** As {@link #startHttpsOAuth(Path, Path, Path)}, keeping data in {@code location} (null: in memory). */
    public static AzuriteProcess startHttpsOAuth(Path projectDir, Path location, Path certPem, Path keyPem)
            throws IOException {
        if (!Files.isRegularFile(certPem) || !Files.isRegularFile(keyPem)) {
            throw new IOException("certificate " + certPem + " or key " + keyPem + " is missing");
        }
        return launch(projectDir, location, 0, 0,
                List.of("--oauth", "basic", "--cert", certPem.toString(), "--key", keyPem.toString()), "https");
    }

    private static AzuriteProcess launch(Path projectDir, Path location, int blobPort, int tablePort,
                                         List<String> extraArgs, String scheme) throws IOException {
        Path script = projectDir.resolve("node_modules/azurite/dist/src/azurite.js");
        if (!Files.isRegularFile(script)) {
            throw new IOException("Azurite is not installed: " + script + " is missing; run 'npm ci' in " + projectDir);
        }
        List<String> cmd = new ArrayList<>(List.of("node", script.toString(),
                "--disableTelemetry", "--skipApiVersionCheck", "--loose",
                // Idle connections outlive the clients' own keep-alive (30 s), so a client never reuses
                // a connection Azurite has just closed (Azurite's default is 5 s).
                "--blobKeepAliveTimeout", "120", "--tableKeepAliveTimeout", "120",
                "--blobHost", "127.0.0.1", "--blobPort", Integer.toString(blobPort),
                "--queueHost", "127.0.0.1", "--queuePort", "0",
                "--tableHost", "127.0.0.1", "--tablePort", Integer.toString(tablePort)));
        if (location == null) {
            cmd.addAll(List.of("--inMemoryPersistence", "--extentMemoryLimit", "1024"));
        } else {
            Files.createDirectories(location);
            cmd.addAll(List.of("--location", location.toString()));
        }
        cmd.addAll(extraArgs);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        CompletableFuture<int[]> ports = new CompletableFuture<>();
        Thread reader = new Thread(() -> readPorts(p, ports), "azurite-output");
        reader.setDaemon(true);
        reader.start();
        try {
            int[] found = ports.get(60, TimeUnit.SECONDS);
            return new AzuriteProcess(p, found[0], found[1], scheme);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while starting Azurite", e);
        } catch (ExecutionException | TimeoutException e) {
            p.destroyForcibly();
            throw new IOException("Azurite did not start: " + e.getMessage(), e);
        }
    }

    private static void readPorts(Process p, CompletableFuture<int[]> ports) {
        int blob = -1;
        int table = -1;
        StringBuilder seen = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                if (!ports.isDone()) {
                    seen.append(line).append('\n');
                    Matcher m = LISTENING.matcher(line);
                    if (m.find()) {
                        int port = Integer.parseInt(m.group(2));
                        if (m.group(1).equals("Blob")) {
                            blob = port;
                        } else if (m.group(1).equals("Table")) {
                            table = port;
                        }
                        if (blob > 0 && table > 0) {
                            ports.complete(new int[] {blob, table});
                        }
                    }
                }
            }
        } catch (IOException ignored) {
            // The process ended; the future below reports it.
        }
        ports.completeExceptionally(new IOException("Azurite exited before listening:\n" + seen));
    }

    public int blobPort() {
        return blobPort;
    }

    public int tablePort() {
        return tablePort;
    }

    /** Full connection string for the emulator's well-known development account. */
    public String connectionString() {
        return connectionString(scheme, blobPort, tablePort);
    }

    public static String connectionString(int blobPort, int tablePort) {
        return connectionString("http", blobPort, tablePort);
    }

    private static String connectionString(String scheme, int blobPort, int tablePort) {
        String account = StorageSettings.EMULATOR_ACCOUNT;
        return "DefaultEndpointsProtocol=" + scheme + ";AccountName=" + account
                + ";AccountKey=" + StorageSettings.EMULATOR_KEY
                + ";BlobEndpoint=" + scheme + "://127.0.0.1:" + blobPort + "/" + account
                + ";TableEndpoint=" + scheme + "://127.0.0.1:" + tablePort + "/" + account + ";";
    }

    /** The development account's blob service URL, e.g. for a token-credential client. */
    public String blobEndpoint() {
        return scheme + "://127.0.0.1:" + blobPort + "/" + StorageSettings.EMULATOR_ACCOUNT;
    }

    public String tableEndpoint() {
        return scheme + "://127.0.0.1:" + tablePort + "/" + StorageSettings.EMULATOR_ACCOUNT;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
