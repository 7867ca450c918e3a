package dev.ckptvault.provisioning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.functions.BootstrapFunction;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.wiring.AppContext;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.storage.StorageClients;

/** POST /api/manage/bootstrap in local mode (Azurite) and Azure mode (fake ARM), and the CLI. */
class BootstrapRouteTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static LocalHttpResponse post(AppContext ctx) {
        return (LocalHttpResponse) ctx.function(BootstrapFunction.class)
                .run(LocalHttpRequest.of(HttpMethod.POST, "/api/manage/bootstrap", Map.of(), null));
    }

    static List<String> steps(JsonNode list) {
        List<String> out = new ArrayList<>();
        list.forEach(i -> out.add(i.get("step").asText()));
        return out;
    }

    @Test
    void localModeCreatesContainersAndTableInAzuriteAndListsEverySkippedStep() {
        AppContext ctx = new AppContext(CkptConfig.fromMap(AZURITE.settings(Map.of(
                "CKPT_CONTAINER", "bootstrapped", "CKPT_INDEX_TABLE", "bootindex",
                "CKPT_BOOTSTRAP_DEADLETTER_CONTAINER", "boot-deadletter"))), Clock.systemUTC());

        LocalHttpResponse first = post(ctx);
        assertEquals(200, first.getStatusCode(), first.bodyText());
        JsonNode r = Json.parse(first.bodyText(), "r");
        assertEquals("local", r.get("mode").asText());
        assertEquals(List.of("container", "keysContainer", "deadLetterContainer", "indexTable"), steps(r.get("created")));
        StorageClients storage = new StorageClients(CkptConfig.fromMap(AZURITE.settings(Map.of())));
        assertTrue(storage.blobService().getBlobContainerClient("bootstrapped").exists());
        assertTrue(storage.blobService().getBlobContainerClient(BootstrapPlan.KEYS_CONTAINER).exists());
        assertTrue(storage.blobService().getBlobContainerClient("boot-deadletter").exists());
        storage.tableService().getTableClient("bootindex").listEntities().stream().count();
        Map<String, String> skipped = new HashMap<>();
        r.get("skipped").forEach(s -> skipped.put(s.get("step").asText(), s.get("reason").asText()));
        assertEquals(java.util.Set.of("resourceGroup", "storageAccount", "blobSoftDelete", "blobVersioning", "lifecyclePolicy",
                "appRoles", "systemTopic", "topicDeadLetterRole", "eventSubscription"), skipped.keySet());
        skipped.values().forEach(reason -> assertFalse(reason.isBlank()));
        assertTrue(r.get("endpoints").get("blob").asText().startsWith("http://127.0.0.1:"), r.toString());
        assertFalse(first.bodyText().contains("AccountKey") || first.bodyText().contains(
                dev.ckptvault.config.StorageSettings.EMULATOR_KEY), "no key in the answer");

        JsonNode again = Json.parse(post(ctx).bodyText(), "again");
        assertEquals(0, again.get("created").size(), again.toString());
        assertEquals(List.of("container", "keysContainer", "deadLetterContainer", "indexTable"), steps(again.get("found")));
    }

    static Map<String, String> azureSettings() {
        Map<String, String> env = new HashMap<>();
        env.put("CKPT_STORAGE__blobServiceUri", "https://" + ArmBootstrapTest.ACCOUNT + ".blob.core.windows.net");
        env.put("CKPT_STORAGE__tableServiceUri", "https://" + ArmBootstrapTest.ACCOUNT + ".table.core.windows.net");
        env.put("CKPT_STORAGE__clientId", "00000000-0000-0000-0000-000000000001");
        env.put("CKPT_SWEEP_SCHEDULE", "0 */5 * * * *");
        return env;
    }

    @Test
    void azureModeWithoutBootstrapSettingsIs409NamingTheSetting() {
        AppContext ctx = new AppContext(CkptConfig.fromMap(azureSettings()), Clock.systemUTC(),
                sub -> { throw new AssertionError("no ARM call without settings"); });
        LocalHttpResponse r = post(ctx);
        assertEquals(409, r.getStatusCode(), r.bodyText());
        JsonNode e = Json.parse(r.bodyText(), "e").get("error");
        assertEquals("BootstrapNotConfigured", e.get("code").asText());
        assertEquals("CKPT_BOOTSTRAP_SUBSCRIPTION_ID", e.get("target").asText());
    }

    @Test
    void azureModeProvisionsThroughArmAndMapsRefusalsTo403() throws Exception {
        try (FakeArm arm = FakeArm.start()) {
            Map<String, String> env = azureSettings();
            env.putAll(ArmBootstrapTest.settings());
            env.remove("CKPT_BOOTSTRAP_ACCOUNT_NAME"); // taken from CKPT_STORAGE__blobServiceUri
            arm.refuse("PUT", ".*/resourcegroups/[^/]+/providers/Microsoft\\.Storage/storageAccounts/[^/]+", 403,
                    "AuthorizationFailed", "does not have authorization to perform action 'Microsoft.Storage/storageAccounts/write'");
            AppContext ctx = new AppContext(CkptConfig.fromMap(env), Clock.systemUTC(), arm::connection);
            ArmBootstrapTest.seedResourceGroup(arm);

            LocalHttpResponse refused = post(ctx);
            assertEquals(403, refused.getStatusCode(), refused.bodyText());
            JsonNode e = Json.parse(refused.bodyText(), "e").get("error");
            assertEquals("AuthorizationFailed", e.get("code").asText());
            assertTrue(e.get("message").asText().contains("Storage Account Contributor"), e.toString());

            arm.clearFaults();
            LocalHttpResponse ok = post(ctx);
            assertEquals(200, ok.getStatusCode(), ok.bodyText());
            JsonNode r = Json.parse(ok.bodyText(), "r");
            assertEquals("azure", r.get("mode").asText());
            assertTrue(steps(r.get("created")).contains("eventSubscription"), r.toString());
            assertEquals("https://" + ArmBootstrapTest.ACCOUNT + ".blob.core.windows.net/", r.get("endpoints").get("blob").asText());
        }
    }

    @Test
    void cliRunsWithFlagsAndNamesAMissingFlag() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = BootstrapMain.run(new String[] {"--resource-group", "rg"}, Map.of(),
                sub -> { throw new AssertionError("no ARM call"); }, new PrintStream(out), new PrintStream(err));
        assertEquals(2, code);
        JsonNode e = Json.parse(err.toString(StandardCharsets.UTF_8).lines().findFirst().orElseThrow(), "err").get("error");
        assertEquals("--subscription", e.get("target").asText());

        err.reset();
        assertEquals(2, BootstrapMain.run(new String[] {"--subscription", "not-a-guid", "--resource-group", "rg",
                "--account", "acct"}, Map.of(), sub -> null, new PrintStream(out), new PrintStream(err)));
        assertTrue(err.toString(StandardCharsets.UTF_8).contains("--subscription"), err.toString(StandardCharsets.UTF_8));

        try (FakeArm arm = FakeArm.start()) {
            out.reset();
            err.reset();
            // azd's environment gives subscription, group and location; flags give the rest.
            Map<String, String> azdEnv = Map.of("AZURE_SUBSCRIPTION_ID", ArmBootstrapTest.SUB,
                    "AZURE_RESOURCE_GROUP", ArmBootstrapTest.RG, "AZURE_LOCATION", "westeurope");
            code = BootstrapMain.run(new String[] {"--create-resource-group", "--account", ArmBootstrapTest.ACCOUNT,
                    "--principal-id", ArmBootstrapTest.APP_PRINCIPAL, "--function-app-id", ArmBootstrapTest.FUNCTION_APP,
                    "--soft-delete-days", "14", "--previous-version-days", "30", "--keys-container", "signing-keys"},
                    azdEnv, arm::connection, new PrintStream(out), new PrintStream(err));
            assertEquals(0, code, err.toString(StandardCharsets.UTF_8));
            JsonNode r = Json.parse(out.toString(StandardCharsets.UTF_8), "out");
            assertTrue(steps(r.get("created")).contains("resourceGroup"), r.toString());
            assertTrue(r.has("notes"), r.toString());
            assertEquals(14, arm.body("PUT", ArmBootstrapTest.ACCOUNT_ID + "/blobServices/default")
                    .path("properties").path("deleteRetentionPolicy").path("days").asInt());
            assertEquals(30, ArmBootstrapTest.ruleNamed(arm.body("PUT", ArmBootstrapTest.POLICY_ID), BootstrapPlan.LIFECYCLE_RULE)
                    .path("definition").path("actions").path("version").path("delete").path("daysAfterCreationGreaterThan").asInt());
            String keys = ArmBootstrapTest.ACCOUNT_ID + "/blobServices/default/containers/signing-keys";
            assertEquals("None", arm.body("PUT", keys).path("properties").path("publicAccess").asText());
            assertTrue(arm.writes().stream().anyMatch(w -> w.path().startsWith(keys + "/providers/Microsoft.Authorization/roleAssignments/")
                    && w.body().path("properties").path("principalId").asText().equals(ArmBootstrapTest.APP_PRINCIPAL)),
                    "the app's role on the keys container it was given: " + arm.writes());

            err.reset();
            assertEquals(2, BootstrapMain.run(new String[] {"--account", ArmBootstrapTest.ACCOUNT, "--previous-version-days", "0"},
                    azdEnv, arm::connection, new PrintStream(out), new PrintStream(err)));
            JsonNode bad = Json.parse(err.toString(StandardCharsets.UTF_8).lines().findFirst().orElseThrow(), "err").get("error");
            assertEquals("--previous-version-days", bad.get("target").asText());
        }
    }
}
