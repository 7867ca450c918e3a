package dev.ckptvault.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class BootstrapDefaultsTest {
    @Test
    void absentSettingsGiveSecureDefaults() {
        BootstrapDefaults b = BootstrapDefaults.fromMap(Map.of());
        assertEquals("Standard_LRS", b.sku());
        assertFalse(b.allowSharedKeyAccess());
        assertEquals(7, b.softDeleteDays());
        assertEquals("eventgrid-deadletter", b.deadLetterContainer());
        assertTrue(b.subscriptionId().isEmpty());
    }

    @Test
    void malformedValuesNameTheSetting() {
        for (Map.Entry<String, String> bad : Map.of(
                "CKPT_BOOTSTRAP_SUBSCRIPTION_ID", "my-sub",
                "CKPT_BOOTSTRAP_ACCOUNT_NAME", "Has_Upper",
                "CKPT_BOOTSTRAP_SKU", "Premium_LRS",
                "CKPT_BOOTSTRAP_PRINCIPAL_ID", "app",
                "CKPT_BOOTSTRAP_FUNCTION_APP_ID", "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/z",
                "CKPT_BOOTSTRAP_SOFT_DELETE_DAYS", "400",
                "CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS", "yes",
                "CKPT_BOOTSTRAP_DEADLETTER_CONTAINER", "Dead_Letters").entrySet()) {
            ConfigException e = assertThrows(ConfigException.class,
                    () -> BootstrapDefaults.fromMap(Map.of(bad.getKey(), bad.getValue())), bad.getKey());
            assertEquals(bad.getKey(), e.setting());
        }
    }
}
