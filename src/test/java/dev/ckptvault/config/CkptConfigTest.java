package dev.ckptvault.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CkptConfigTest {
    private static Map<String, String> minimal() {
        Map<String, String> env = new HashMap<>();
        env.put("CKPT_STORAGE", "UseDevelopmentStorage=true");
        env.put("CKPT_SWEEP_SCHEDULE", "0 */5 * * * *");
        return env;
    }

    @Test
    void minimalSettingsGiveDocumentedDefaults() {
        CkptConfig c = CkptConfig.fromMap(minimal());
        assertEquals("checkpoints", c.container());
        assertEquals(Duration.ofMinutes(30), c.defaultUrlLifetime());
        assertEquals(10_000, c.maxFilesPerRequest());
        assertTrue(c.storage().isEmulator());
        assertEquals(3, c.retention().keepLast());
    }

    @Test
    void missingStorageNamesTheSetting() {
        Map<String, String> env = minimal();
        env.remove("CKPT_STORAGE");
        ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env));
        assertEquals("CKPT_STORAGE", e.setting());
        assertTrue(e.getMessage().contains("CKPT_STORAGE"));
    }

    @Test
    void missingSweepScheduleNamesTheSetting() {
        Map<String, String> env = minimal();
        env.remove("CKPT_SWEEP_SCHEDULE");
        assertEquals("CKPT_SWEEP_SCHEDULE",
                assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env)).setting());
    }

    @Test
    void malformedValuesNameTheSetting() {
        for (Map.Entry<String, String> bad : Map.of(
                "CKPT_URL_MAX_MINUTES", "soon",
                "CKPT_MAX_FILES_PER_REQUEST", "20000",
                "CKPT_CONTAINER", "Bad_Name",
                "CKPT_SWEEP_SCHEDULE", "*/5 * * * *",
                "CKPT_RETENTION_ACTION", "archive",
                "CKPT_EVENTS_TOPIC_ENDPOINT", "not a url").entrySet()) {
            Map<String, String> env = minimal();
            env.put(bad.getKey(), bad.getValue());
            ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env), bad.getKey());
            assertEquals(bad.getKey(), e.setting());
        }
    }

    @Test
    void identityBasedStorageNeedsBothServiceUris() {
        Map<String, String> env = minimal();
        env.remove("CKPT_STORAGE");
        env.put("CKPT_STORAGE__blobServiceUri", "https://acct.blob.core.windows.net");
        ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env));
        assertEquals("CKPT_STORAGE__tableServiceUri", e.setting());

        env.put("CKPT_STORAGE__tableServiceUri", "https://acct.table.core.windows.net");
        env.put("CKPT_STORAGE__clientId", "00000000-0000-0000-0000-000000000001");
        CkptConfig c = CkptConfig.fromMap(env);
        assertFalse(c.storage().usesConnectionString());
        assertFalse(c.storage().isEmulator());
        assertEquals("managedidentity", c.storage().credential());
    }

    @Test
    void printedConfigHidesKeys() {
        Map<String, String> env = minimal();
        env.put("CKPT_STORAGE", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0c2VjcmV0");
        env.put("CKPT_EVENTS_TOPIC_KEY", "topic-secret");
        String printed = CkptConfig.fromMap(env).toString();
        assertFalse(printed.contains("c2VjcmV0c2VjcmV0"), printed);
        assertFalse(printed.contains("topic-secret"), printed);
    }

    @Test
    void tokensLiveAWeekAtMostAndTheirKeysHaveAContainerOfTheirOwn() {
        CkptConfig c = CkptConfig.fromMap(minimal());
        assertEquals(Duration.ofDays(7), c.tokenMaxLifetime());
        assertEquals("ckptvault-keys", c.keysContainer());
        for (Map.Entry<String, String> bad : Map.of(
                "CKPT_TOKEN_MAX_MINUTES", "0",
                "CKPT_KEYS_CONTAINER", "Keys_Container").entrySet()) {
            Map<String, String> env = minimal();
            env.put(bad.getKey(), bad.getValue());
            assertEquals(bad.getKey(), assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env)).setting());
        }
        Map<String, String> huge = minimal();
        huge.put("CKPT_TOKEN_MAX_MINUTES", Long.toString(CkptConfig.TOKEN_MAX_MINUTES_LIMIT + 1));
        assertEquals("CKPT_TOKEN_MAX_MINUTES", assertThrows(ConfigException.class, () -> CkptConfig.fromMap(huge)).setting());
        Map<String, String> shared = minimal();
        shared.put("CKPT_KEYS_CONTAINER", "checkpoints");
        ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(shared));
        assertEquals("CKPT_KEYS_CONTAINER", e.setting());
        assertTrue(e.getMessage().contains("CKPT_CONTAINER"), e.getMessage());
    }

    @Test
    void aDefaultTtlShorterThanTheLongestUrlNamesTheTtlSetting() {
        // An upload may run as long as its URL lives; a TTL below that could remove it mid-upload.
        Map<String, String> env = minimal();
        env.put("CKPT_URL_MAX_MINUTES", "240");
        env.put("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "239");
        ConfigException e = assertThrows(ConfigException.class, () -> CkptConfig.fromMap(env));
        assertEquals("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", e.setting());
        assertTrue(e.getMessage().contains("CKPT_URL_MAX_MINUTES"), e.getMessage());
        env.put("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "240");
        assertEquals(240, CkptConfig.fromMap(env).retention().incompleteTtlMinutes());
    }
}
