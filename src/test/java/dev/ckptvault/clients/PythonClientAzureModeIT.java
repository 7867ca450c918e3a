package dev.ckptvault.clients;

import dev.ckptvault.testing.LocalHostProcess;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Python client's suite, the PyTorch kill-and-resume run included, against the local host in
 * Azure mode ({@code --azure-mode}): the API and every storage URL are HTTPS with the certificate
 * the host prints, which the Python side trusts through {@code SSL_CERT_FILE} (the standard
 * library's default context reads it), as a trainer trusts the public CAs in Azure. By hand:
 *
 * <pre>
 *   scripts/run-local.sh --azure-mode --port 7071     # prints "ckptvault certificate: PATH" and the ready line
 *   CKPT_BASE_URL=https://127.0.0.1:7071 CKPT_ADMIN_KEY=$(cat .azurite/admin-key) SSL_CERT_FILE=PATH \
 *     python3 -m unittest discover -s clients/python/tests -v
 * </pre>
 */
class PythonClientAzureModeIT {
    private static LocalHostProcess host;

    @BeforeAll
    static void startAzureMode() throws Exception {
        host = LocalHostProcess.startAzureMode("python-client-azure-mode-it-host.log");
    }

    @AfterAll
    static void stop() throws Exception {
        if (host != null) {
            host.close();
        }
    }

    @Test
    void pythonClientSuitePassesAgainstTheLocalHostInAzureMode() throws Exception {
        PythonClientIT.runSuite(host, Map.of("SSL_CERT_FILE", host.certificate().toString()));
    }
}
