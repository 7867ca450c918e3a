package dev.ckptvault.provisioning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.InfraAppSettings;
import dev.ckptvault.local.LocalIdentity;
import dev.ckptvault.local.LocalTls;
import dev.ckptvault.local.ManagedIdentityEndpoint;
import dev.ckptvault.local.TokenIssuer;
import dev.ckptvault.testing.AzuriteExtension;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bootstrap's ARM calls signed in as the app's user-assigned managed identity, the way the
 * bootstrap admin route makes them in Azure: a process whose environment holds infra/'s app
 * settings and the platform's IDENTITY_ENDPOINT/IDENTITY_HEADER, against an ARM (FakeArm) that
 * accepts only tokens of the local token service for ARM's audience and the app's object id.
 */
class ArmBootstrapWithAppIdentityTest {
    static final Set<String> ARM_AUDIENCES = Set.of("https://management.core.windows.net/",
            "https://management.core.windows.net", "https://management.azure.com/", "https://management.azure.com");

    @Test
    void armStepsRunSigningInAsTheUserAssignedIdentityWithInfrasSettings(@TempDir Path dir) throws Exception {
        TokenIssuer issuer = new TokenIssuer(Clock.systemUTC());
        List<String> audiences = new CopyOnWriteArrayList<>();
        try (ManagedIdentityEndpoint msi = new ManagedIdentityEndpoint(LocalIdentity.APP, issuer);
             FakeArm arm = FakeArm.start()) {
            arm.acceptsToken = token -> issuer.verify(token).filter(c -> {
                audiences.add(c.get("aud").asText());
                return ARM_AUDIENCES.contains(c.get("aud").asText())
                        && LocalIdentity.APP.principalId().equals(c.get("oid").asText());
            }).isPresent();
            String rgId = "/subscriptions/" + LocalIdentity.SUBSCRIPTION_ID + "/resourceGroups/" + LocalIdentity.RESOURCE_GROUP;
            ObjectNode rg = Json.MAPPER.createObjectNode().put("id", rgId).put("name", LocalIdentity.RESOURCE_GROUP)
                    .put("type", "Microsoft.Resources/resourceGroups").put("location", "local");
            rg.set("properties", Json.MAPPER.createObjectNode().put("provisioningState", "Succeeded"));
            arm.seed(rg);

            Map<String, String> settings = InfraAppSettings.resolve(AzuriteExtension.projectDir().resolve("infra"),
                    new InfraAppSettings.LocalEquivalents(URI.create("https://127.0.0.1:1/devstoreaccount1"),
                            URI.create("https://127.0.0.1:2/devstoreaccount1"), LocalIdentity.APP,
                            URI.create("https://127.0.0.1:3/api/events"), "devstoreaccount1", "local"));
            Path trust = LocalTls.writeTrustStore(dir.resolve("trust.p12"), LocalTls.read(arm.certificatePem()));
            ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Djavax.net.ssl.trustStore=" + trust, "-Djavax.net.ssl.trustStorePassword=" + LocalTls.TRUST_STORE_PASSWORD,
                    "-cp", System.getProperty("java.class.path"), ArmBootstrapAsApp.class.getName(), arm.endpoint());
            Map<String, String> env = pb.environment();
            String path = env.get("PATH");
            env.clear();
            env.put("PATH", path);
            env.putAll(settings);
            env.putAll(msi.environment());
            pb.redirectError(dir.resolve("stderr.txt").toFile());
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(120, TimeUnit.SECONDS));
            assertEquals(0, p.exitValue(), out + "\n" + java.nio.file.Files.readString(dir.resolve("stderr.txt")));

            JsonNode report = Json.parse(out.strip(), "report");
            assertEquals("azure", report.get("mode").asText(), out);
            assertFalse(report.get("created").isEmpty(), out);
            assertFalse(audiences.isEmpty(), "ARM saw bearer tokens");
            assertTrue(audiences.stream().allMatch(ARM_AUDIENCES::contains), audiences.toString());
            assertTrue(msi.granted().stream().allMatch(g -> g.clientId().equals(LocalIdentity.APP.clientId())
                    && ARM_AUDIENCES.contains(g.resource())), msi.granted().toString());
            // The app's roles go to the identity infra/ names (CKPT_BOOTSTRAP_PRINCIPAL_ID); one more is the
            // system topic's own (dead letters).
            List<JsonNode> roles = arm.writes().stream().filter(r -> r.path().contains("roleAssignments")
                    && r.body() != null).map(FakeArm.Request::body).toList();
            Set<String> appRoles = new java.util.TreeSet<>();
            for (JsonNode b : roles) {
                if (b.path("properties").path("principalId").asText().equals(LocalIdentity.APP.principalId())) {
                    String def = b.path("properties").path("roleDefinitionId").asText();
                    appRoles.add(def.substring(def.lastIndexOf('/') + 1));
                }
            }
            // Storage Blob Data Contributor, Storage Table Data Contributor, Storage Blob Delegator.
            assertEquals(Set.of("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
                    "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"), appRoles, roles.toString());
        }
    }
}
