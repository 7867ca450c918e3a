package dev.ckptvault.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The local host (LocalMain --port 0, in-memory Azurite) in a child JVM on the current classpath,
 * for clients that need a real HTTP port (the Python client's tests and bench). Started through
 * its documented command line and ready line; a process of its own keeps the host's process-wide
 * AppContext away from other tests. It checks keys as Azure's host does, with an admin key and a
 * function key made for this start. CKPT_BASE_URL set: that host is used and nothing is started;
 * its admin key is then CKPT_ADMIN_KEY.
 */
public final class LocalHostProcess implements AutoCloseable {
    private static final Pattern READY = Pattern.compile("ckptvault ready on (https?://\\S+)");
    private static final String CERTIFICATE = "ckptvault certificate: ";

    private final Process process;
    private final String baseUrl;
    private final String adminKey;
    private final String functionKey;
    private final Path certificate;
    private final Path log;

    private LocalHostProcess(Process process, String baseUrl, String adminKey, String functionKey, Path certificate,
                             Path log) {
        this.process = process;
        this.baseUrl = baseUrl;
        this.adminKey = adminKey;
        this.functionKey = functionKey;
        this.certificate = certificate;
        this.log = log;
    }

    private static String newKey() {
        byte[] b = new byte[24];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public static LocalHostProcess start(String logName) throws Exception {
        String given = System.getenv("CKPT_BASE_URL");
        if (given != null && !given.isBlank()) {
            return new LocalHostProcess(null, given, System.getenv("CKPT_ADMIN_KEY"), System.getenv("CKPT_FUNCTION_KEY"),
                    null, null);
        }
        return launch(logName, false);
    }

    /**
     * The local host in Azure mode ({@code --azure-mode}): HTTPS with the certificate it prints, the
     * app in a process of its own with infra/'s settings and a managed identity. Always started here
     * (CKPT_BASE_URL is not consulted: an outside host would not be in Azure mode for certain).
     */
    public static LocalHostProcess startAzureMode(String logName) throws Exception {
        return launch(logName, true);
    }

    private static LocalHostProcess launch(String logName, boolean azureMode) throws Exception {
        String adminKey = newKey();
        String functionKey = newKey();
        Path project = AzuriteExtension.projectDir();
        String classpath = System.getProperty("surefire.test.class.path", dev.ckptvault.local.AzureMode.classpath());
        Path log = project.resolve("target").resolve(logName);
        Files.createDirectories(log.getParent());
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dckptvault.projectDir=" + project, "-cp", classpath, "dev.ckptvault.local.LocalMain",
                "--port", "0", "--data", ":memory:", "--poll-ms", "200", "--admin-key", adminKey,
                "--function-key", functionKey));
        if (azureMode) {
            cmd.add("--azure-mode");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.directory(project.toFile());
        pb.redirectError(log.toFile());
        Process process = pb.start();
        CompletableFuture<String[]> ready = CompletableFuture.supplyAsync(() -> readyLines(process));
        String[] lines;
        try {
            lines = ready.get(240, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            throw e;
        }
        if (lines == null) {
            throw new IllegalStateException("the local host exited before it was ready; " + log + ":\n"
                    + Files.readString(log));
        }
        if (azureMode && lines[1] == null) {
            process.destroyForcibly();
            throw new IllegalStateException("Azure mode printed no certificate line before the ready line");
        }
        return new LocalHostProcess(process, lines[0], adminKey, functionKey,
                lines[1] == null ? null : Path.of(lines[1]), log);
    }

    /** {ready URL, certificate path or null}, or null when the process ended first. */
    private static String[] readyLines(Process process) {
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            String certificate = null;
            while ((line = out.readLine()) != null) {
                if (line.startsWith(CERTIFICATE)) {
                    certificate = line.substring(CERTIFICATE.length()).strip();
                }
                Matcher m = READY.matcher(line);
                if (m.find()) {
                    return new String[] {m.group(1), certificate};
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /** The certificate an Azure-mode host serves (every endpoint: app, Azurite, topic), or null. */
    public Path certificate() {
        return certificate;
    }

    /** The host's process (null for an outside host): its children are Azurite and, in Azure mode, the app. */
    public Process process() {
        return process;
    }

    /** Where the host's standard error goes. */
    public Path log() {
        return log;
    }

    /** The host's admin (master) key: admin routes, and issuing run tokens. */
    public String adminKey() {
        return adminKey;
    }

    /** The host's function key (Azure's host always has one; no route of this app accepts it). */
    public String functionKey() {
        return functionKey;
    }

    /** The app's root, e.g. http://127.0.0.1:PORT (the API is under /api). */
    public String baseUrl() {
        return baseUrl;
    }

    @Override
    public void close() throws InterruptedException {
        if (process != null) {
            process.destroy(); // SIGTERM: the host's shutdown hook stops Azurite
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

}
