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
    private static final Pattern READY = Pattern.compile("ckptvault ready on (http://\\S+)");

    private final Process process;
    private final String baseUrl;
    private final String adminKey;
    private final String functionKey;

    private LocalHostProcess(Process process, String baseUrl, String adminKey, String functionKey) {
        this.process = process;
        this.baseUrl = baseUrl;
        this.adminKey = adminKey;
        this.functionKey = functionKey;
    }

    private static String newKey() {
        byte[] b = new byte[24];
        new java.security.SecureRandom().nextBytes(b);
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    public static LocalHostProcess start(String logName) throws Exception {
        String given = System.getenv("CKPT_BASE_URL");
        if (given != null && !given.isBlank()) {
            return new LocalHostProcess(null, given, System.getenv("CKPT_ADMIN_KEY"), System.getenv("CKPT_FUNCTION_KEY"));
        }
        String adminKey = newKey();
        String functionKey = newKey();
        Path project = AzuriteExtension.projectDir();
        String classpath = System.getProperty("surefire.test.class.path", classpathOfThisLoader());
        Path log = project.resolve("target").resolve(logName);
        Files.createDirectories(log.getParent());
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dckptvault.projectDir=" + project, "-cp", classpath, "dev.ckptvault.local.LocalMain",
                "--port", "0", "--data", ":memory:", "--poll-ms", "200", "--admin-key", adminKey,
                "--function-key", functionKey);
        pb.directory(project.toFile());
        pb.redirectError(log.toFile());
        Process process = pb.start();
        CompletableFuture<String> ready = CompletableFuture.supplyAsync(() -> readyUrl(process));
        String url;
        try {
            url = ready.get(180, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            throw e;
        }
        if (url == null) {
            throw new IllegalStateException("the local host exited before it was ready; " + log + ":\n"
                    + Files.readString(log));
        }
        return new LocalHostProcess(process, url, adminKey, functionKey);
    }

    private static String readyUrl(Process process) {
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8));
            String line;
            while ((line = out.readLine()) != null) {
                Matcher m = READY.matcher(line);
                if (m.find()) {
                    return m.group(1);
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
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

    /** Under exec:java (benchmarks) the project's classes come from a URL class loader, not java.class.path. */
    private static String classpathOfThisLoader() {
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
}
