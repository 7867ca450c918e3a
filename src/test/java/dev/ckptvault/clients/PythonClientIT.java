package dev.ckptvault.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.LocalHostProcess;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Runs the Python client's unittest suite (clients/python/tests) against the local host, so the
 * README's one test command covers the trainer client and the PyTorch kill-and-resume run too.
 * CKPT_PYTHON picks the interpreter for the client tests (default python3); the PyTorch test runs
 * the trainer with /usr/bin/python3 (Debian's python3-torch) and is skipped, saying so, without it.
 * Token routes demand run tokens: the tests get the host's admin key (CKPT_ADMIN_KEY) and their
 * support issues a write token per run through the admin route, as a job launcher would.
 * {@link PythonClientAzureModeIT} runs the same suite against the host in Azure mode.
 */
class PythonClientIT {
    private static LocalHostProcess host;

    @BeforeAll
    static void startLocalHost() throws Exception {
        host = LocalHostProcess.start("python-client-it-host.log");
    }

    @AfterAll
    static void stopLocalHost() throws Exception {
        if (host != null) {
            host.close();
        }
    }

    @Test
    void pythonClientSuitePassesAgainstTheLocalHost() throws Exception {
        runSuite(host, Map.of());
    }

    /**
     * The suite as a user starts it against a running host: CKPT_BASE_URL, CKPT_ADMIN_KEY, and
     * whatever else {@code env} adds (Azure mode: SSL_CERT_FILE). Its output goes to this test's.
     */
    static void runSuite(LocalHostProcess host, Map<String, String> env) throws Exception {
        String python = System.getenv().getOrDefault("CKPT_PYTHON", "python3");
        ProcessBuilder pb = new ProcessBuilder(python, "-m", "unittest", "discover", "-s",
                "clients" + File.separator + "python" + File.separator + "tests", "-v");
        pb.directory(AzuriteExtension.projectDir().toFile());
        pb.environment().put("CKPT_BASE_URL", host.baseUrl());
        pb.environment().put("CKPT_ADMIN_KEY", host.adminKey());
        pb.environment().remove("CKPT_TOKEN");
        pb.environment().remove("CKPT_FUNCTION_KEY");
        pb.environment().put("PYTHONUNBUFFERED", "1");
        pb.environment().putAll(env);
        pb.redirectErrorStream(true);
        Process tests = pb.start();
        List<String> lines = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(
                new InputStreamReader(tests.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = out.readLine()) != null) {
                System.out.println("[python] " + line);
                lines.add(line);
            }
        }
        if (!tests.waitFor(20, TimeUnit.MINUTES)) {
            tests.destroyForcibly();
        }
        String output = String.join("\n", lines);
        assertFalse(output.contains("CKPT_BASE_URL is not set"), "the Python tests did not see the local host");
        assertEquals(0, tests.exitValue(), "Python client tests failed against " + host.baseUrl() + " (output above)");
    }
}
