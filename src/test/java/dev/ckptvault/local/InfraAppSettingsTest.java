package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.config.ConfigException;
import dev.ckptvault.testing.AzuriteExtension;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The app settings Azure mode starts the app with are infra/'s own, evaluated from the same block
 * SettingsParityTest reads: every value followed through Bicep, only Azure-assigned values
 * replaced by their local equivalents.
 */
class InfraAppSettingsTest {
    static final InfraAppSettings.LocalEquivalents LOCAL = new InfraAppSettings.LocalEquivalents(
            URI.create("https://127.0.0.1:41001/devstoreaccount1"), URI.create("https://127.0.0.1:41002/devstoreaccount1"),
            LocalIdentity.APP, URI.create("https://127.0.0.1:41003/api/events"), "devstoreaccount1", "local");

    static Path infra() {
        return AzuriteExtension.projectDir().resolve("infra");
    }

    @Test
    void theRealInfraGivesTheAppTheseSettingsLocally() {
        Map<String, String> s = InfraAppSettings.resolve(infra(), LOCAL);
        Map<String, String> expected = new LinkedHashMap<>();
        expected.put("CKPT_STORAGE__blobServiceUri", "https://127.0.0.1:41001/devstoreaccount1");
        expected.put("CKPT_STORAGE__tableServiceUri", "https://127.0.0.1:41002/devstoreaccount1");
        expected.put("CKPT_STORAGE__credential", "managedidentity");
        expected.put("CKPT_STORAGE__clientId", LocalIdentity.APP.clientId());
        expected.put("CKPT_CONTAINER", "checkpoints");
        expected.put("CKPT_INDEX_TABLE", "ckptindex");
        expected.put("CKPT_URL_DEFAULT_MINUTES", "30");
        expected.put("CKPT_URL_MAX_MINUTES", "240");
        expected.put("CKPT_MAX_FILES_PER_REQUEST", "10000");
        expected.put("CKPT_MAX_BODY_BYTES", "8388608");
        expected.put("CKPT_SWEEP_SCHEDULE", "0 */5 * * * *");
        expected.put("CKPT_RETENTION_KEEP_LAST", "3");
        expected.put("CKPT_RETENTION_KEEP_EVERY", "0");
        expected.put("CKPT_RETENTION_MIN_AGE_MINUTES", "10");
        expected.put("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "1440");
        expected.put("CKPT_RETENTION_ACTION", "delete");
        expected.put("CKPT_EVENTS_TOPIC_ENDPOINT", "https://127.0.0.1:41003/api/events");
        expected.put("CKPT_BOOTSTRAP_SUBSCRIPTION_ID", LocalIdentity.SUBSCRIPTION_ID);
        expected.put("CKPT_BOOTSTRAP_RESOURCE_GROUP", LocalIdentity.RESOURCE_GROUP);
        expected.put("CKPT_BOOTSTRAP_LOCATION", "local");
        expected.put("CKPT_BOOTSTRAP_ACCOUNT_NAME", "devstoreaccount1");
        expected.put("CKPT_BOOTSTRAP_SKU", "Standard_LRS");
        expected.put("CKPT_BOOTSTRAP_PRINCIPAL_ID", LocalIdentity.APP.principalId());
        expected.put("CKPT_BOOTSTRAP_FUNCTION_APP_ID", "/subscriptions/" + LocalIdentity.SUBSCRIPTION_ID
                + "/resourceGroups/" + LocalIdentity.RESOURCE_GROUP + "/providers/Microsoft.Web/sites/func-ckpt-local");
        expected.put("CKPT_BOOTSTRAP_SOFT_DELETE_DAYS", "7");
        expected.put("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS", "false");
        expected.put("CKPT_BOOTSTRAP_DEADLETTER_CONTAINER", "eventgrid-deadletter");
        expected.put("CKPT_KEYS_CONTAINER", "ckptvault-keys");
        expected.put("CKPT_TOKEN_MAX_MINUTES", "10080");
        assertEquals(expected, s);
    }

    @Test
    void theSettingsStartTheAppByIdentityWithNoAccountKeyAnywhere() {
        Map<String, String> s = InfraAppSettings.resolve(infra(), LOCAL);
        assertFalse(s.containsKey("CKPT_STORAGE"), "no connection string");
        assertFalse(s.containsKey("CKPT_EVENTS_TOPIC_KEY"), "no topic key");
        for (Map.Entry<String, String> e : s.entrySet()) {
            assertFalse(e.getValue().toLowerCase(java.util.Locale.ROOT).contains("accountkey"), e.toString());
            assertFalse(e.getValue().contains("DefaultEndpointsProtocol"), e.toString());
        }
        CkptConfig config = CkptConfig.fromMap(s);
        assertFalse(config.storage().usesConnectionString());
        assertEquals(LocalIdentity.APP.clientId(), config.storage().clientId());
        assertEquals("managedidentity", config.storage().credential());
        assertTrue(config.eventsTopicKey().isEmpty());
    }

    /** A copy of infra/ with one line of ckptAppSettings removed. */
    static Path infraWithout(Path dir, String setting) throws IOException {
        Path copy = dir.resolve("infra");
        try (Stream<Path> files = Files.walk(infra())) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = copy.resolve(infra().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
        Path api = copy.resolve("app/api.bicep");
        String text = Files.readString(api);
        String without = text.replaceAll("(?m)^\\s*" + setting + ":.*\\n", "");
        assertTrue(without.length() < text.length(), setting + " not found in api.bicep");
        Files.writeString(api, without);
        return copy;
    }

    @Test
    void withoutTheSweepScheduleInInfraTheAppRefusesToStartNamingIt(@TempDir Path dir) throws IOException {
        Map<String, String> s = InfraAppSettings.resolve(infraWithout(dir, "CKPT_SWEEP_SCHEDULE"), LOCAL);
        ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(s));
        assertTrue(e.getMessage().contains("CKPT_SWEEP_SCHEDULE"), e.getMessage());
    }

    @Test
    void aValueOnlyAzureKnowsAndNoLocalEquivalentCoversFailsNamingTheSetting(@TempDir Path dir) throws IOException {
        Path copy = infraWithout(dir, "CKPT_CONTAINER");
        Path api = copy.resolve("app/api.bicep");
        Files.writeString(api, Files.readString(api).replace("var ckptAppSettings = {\n",
                "var ckptAppSettings = {\n  CKPT_CONTAINER: site.properties.defaultHostName\n"));
        InfraAppSettings.InfraSettingsException e = assertThrows(InfraAppSettings.InfraSettingsException.class,
                () -> InfraAppSettings.resolve(copy, LOCAL));
        assertEquals("CKPT_CONTAINER", e.setting());
        assertTrue(e.getMessage().contains("site.properties.defaultHostName"), e.getMessage());
    }

    @Test
    void aParameterWithoutValueFailsNamingTheSetting(@TempDir Path dir) throws IOException {
        Path copy = infraWithout(dir, "CKPT_INDEX_TABLE");
        Path main = copy.resolve("main.bicep");
        Files.writeString(main, Files.readString(main).replace("param indexTable string = 'ckptindex'",
                "param indexTable string"));
        Path api = copy.resolve("app/api.bicep");
        Files.writeString(api, Files.readString(api).replace("var ckptAppSettings = {\n",
                "var ckptAppSettings = {\n  CKPT_INDEX_TABLE: indexTable\n"));
        InfraAppSettings.InfraSettingsException e = assertThrows(InfraAppSettings.InfraSettingsException.class,
                () -> InfraAppSettings.resolve(copy, LOCAL));
        assertEquals("CKPT_INDEX_TABLE", e.setting());
        assertTrue(e.getMessage().contains("indexTable"), e.getMessage());
    }
}
