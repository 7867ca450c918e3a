package dev.ckptvault.provisioning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.AzuriteExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * infra/ and local.settings.json.example set exactly the CKPT_* settings the app reads, both ways:
 * nothing the app reads is forgotten (required ones like CKPT_SWEEP_SCHEDULE included), nothing
 * is set that the app ignores (a typo would be silently useless).
 */
class SettingsParityTest {
    /**
     * Intentional exceptions, one storage style each side:
     * Azure connects with its managed identity (CKPT_STORAGE__*), so it sets no connection string
     * (CKPT_STORAGE) and, with the events topic's local auth off, no topic key (CKPT_EVENTS_TOPIC_KEY).
     * Locally the emulator is reached by connection string, so the identity-based CKPT_STORAGE__* are not set.
     */
    static final Set<String> NOT_IN_AZURE = Set.of("CKPT_STORAGE", "CKPT_EVENTS_TOPIC_KEY");
    static final Set<String> NOT_LOCAL = Set.of("CKPT_STORAGE__blobServiceUri", "CKPT_STORAGE__tableServiceUri",
            "CKPT_STORAGE__credential", "CKPT_STORAGE__clientId");

    private static final Pattern BLOCK = Pattern.compile("(?ms)^var ckptAppSettings = \\{\\n(.*?)^\\}");
    private static final Pattern KEY = Pattern.compile("(?m)^\\s*(CKPT_[A-Za-z0-9_]+)\\s*:");

    static Path project() {
        return AzuriteExtension.projectDir();
    }

    /** The keys of the CKPT_* app settings block in infra/app/api.bicep. */
    static Set<String> bicepSettings() throws IOException {
        String bicep = Files.readString(project().resolve("infra/app/api.bicep"));
        Matcher block = BLOCK.matcher(bicep);
        assertTrue(block.find(), "infra/app/api.bicep has no 'var ckptAppSettings = {' block");
        Set<String> keys = new TreeSet<>();
        Matcher k = KEY.matcher(block.group(1));
        while (k.find()) {
            assertTrue(keys.add(k.group(1)), "set twice in Bicep: " + k.group(1));
        }
        assertTrue(bicep.contains("union(hostAppSettings, ckptAppSettings)"),
                "the block must reach the app's settings");
        // Outside the block no CKPT_ setting may be set (it would escape this check).
        Matcher outside = KEY.matcher(bicep.replace(block.group(0), ""));
        assertTrue(!outside.find(), "CKPT_ setting outside ckptAppSettings in api.bicep");
        return keys;
    }

    static Set<String> localSettings() throws IOException {
        JsonNode values = Json.parse(Files.readString(project().resolve("local.settings.json.example")), "example")
                .get("Values");
        Set<String> keys = new TreeSet<>();
        values.fieldNames().forEachRemaining(n -> {
            if (n.startsWith("CKPT_")) {
                keys.add(n);
            }
        });
        return keys;
    }

    static Set<String> minus(Set<String> a, Set<String> b) {
        Set<String> out = new TreeSet<>(a);
        out.removeAll(b);
        return out;
    }

    @Test
    void bicepSetsExactlyTheSettingsTheAppReads() throws IOException {
        Set<String> bicep = bicepSettings();
        Set<String> expected = minus(CkptConfig.SETTINGS, NOT_IN_AZURE);
        assertEquals(Set.of(), minus(expected, bicep), "read by the app but not set in infra/app/api.bicep");
        assertEquals(Set.of(), minus(bicep, CkptConfig.SETTINGS), "set in Bicep but never read by the app");
        assertEquals(Set.of(), minus(bicep, expected), "set in Bicep though documented as Azure-exempt");
        assertTrue(bicep.contains("CKPT_SWEEP_SCHEDULE"));
    }

    @Test
    void localExampleSetsExactlyTheSettingsTheAppReads() throws IOException {
        Set<String> local = localSettings();
        Set<String> expected = minus(CkptConfig.SETTINGS, NOT_LOCAL);
        assertEquals(Set.of(), minus(expected, local), "read by the app but not in local.settings.json.example");
        assertEquals(Set.of(), minus(local, CkptConfig.SETTINGS), "in local.settings.json.example but never read");
        assertEquals(Set.of(), minus(local, expected), "in the example though documented as local-exempt");
    }

    @Test
    void theExceptionsAreRealSettings() {
        assertTrue(CkptConfig.SETTINGS.containsAll(NOT_IN_AZURE));
        assertTrue(CkptConfig.SETTINGS.containsAll(NOT_LOCAL));
    }

    @Test
    void theLocalExampleStartsTheApp() throws IOException {
        java.util.Map<String, String> env = new java.util.HashMap<>();
        Json.parse(Files.readString(project().resolve("local.settings.json.example")), "example").get("Values")
                .fields().forEachRemaining(f -> env.put(f.getKey(), f.getValue().asText()));
        CkptConfig c = CkptConfig.fromMap(env);
        assertTrue(c.storage().isEmulator());
        assertTrue(c.bootstrap().subscriptionId().isEmpty(), "bootstrap settings are optional");
    }
}
