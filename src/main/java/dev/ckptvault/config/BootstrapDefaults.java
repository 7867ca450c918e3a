package dev.ckptvault.config;

import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What {@code POST /api/manage/bootstrap} provisions when it runs inside the app: every value is
 * optional so the app starts without them, and the bootstrap call answers 409 naming the setting
 * it is missing. Malformed values still stop the app at start, like every other setting.
 *
 * @param subscriptionId      CKPT_BOOTSTRAP_SUBSCRIPTION_ID
 * @param resourceGroup       CKPT_BOOTSTRAP_RESOURCE_GROUP
 * @param location            CKPT_BOOTSTRAP_LOCATION (needed only when the account must be created)
 * @param accountName         CKPT_BOOTSTRAP_ACCOUNT_NAME (else taken from the storage setting)
 * @param sku                 CKPT_BOOTSTRAP_SKU, default Standard_LRS
 * @param principalId         CKPT_BOOTSTRAP_PRINCIPAL_ID: the app identity's object id for role assignments
 * @param functionAppId       CKPT_BOOTSTRAP_FUNCTION_APP_ID: resource id of the function app (event subscription)
 * @param softDeleteDays      CKPT_BOOTSTRAP_SOFT_DELETE_DAYS, default 7
 * @param allowSharedKeyAccess CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS, default false
 * @param deadLetterContainer CKPT_BOOTSTRAP_DEADLETTER_CONTAINER, default eventgrid-deadletter
 */
public record BootstrapDefaults(Optional<String> subscriptionId, Optional<String> resourceGroup,
                                Optional<String> location, Optional<String> accountName, String sku,
                                Optional<String> principalId, Optional<String> functionAppId,
                                int softDeleteDays, boolean allowSharedKeyAccess, String deadLetterContainer) {
    /** The SKUs a StorageV2 account accepts for block blobs and tables. */
    public static final Set<String> SKUS = Set.of("Standard_LRS", "Standard_ZRS", "Standard_GRS",
            "Standard_RAGRS", "Standard_GZRS", "Standard_RAGZRS");
    private static final Pattern GUID =
            Pattern.compile("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    private static final Pattern ACCOUNT = Pattern.compile("[a-z0-9]{3,24}");
    private static final Pattern RESOURCE_GROUP = Pattern.compile("[-\\w._()]{1,90}");
    private static final Pattern SITE_ID = Pattern.compile(
            "/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Web/sites/[^/]+", Pattern.CASE_INSENSITIVE);

    public BootstrapDefaults {
        subscriptionId.ifPresent(v -> check("CKPT_BOOTSTRAP_SUBSCRIPTION_ID", GUID, v, "a subscription id (GUID)"));
        resourceGroup.ifPresent(v -> check("CKPT_BOOTSTRAP_RESOURCE_GROUP", RESOURCE_GROUP, v, "a resource group name"));
        accountName.ifPresent(v -> check("CKPT_BOOTSTRAP_ACCOUNT_NAME", ACCOUNT, v,
                "a storage account name (3-24 lowercase letters and digits)"));
        principalId.ifPresent(v -> check("CKPT_BOOTSTRAP_PRINCIPAL_ID", GUID, v, "an object id (GUID)"));
        functionAppId.ifPresent(v -> check("CKPT_BOOTSTRAP_FUNCTION_APP_ID", SITE_ID, v,
                "a function app resource id (/subscriptions/../resourceGroups/../providers/Microsoft.Web/sites/NAME)"));
        if (!SKUS.contains(sku)) {
            throw new ConfigException("CKPT_BOOTSTRAP_SKU", "must be one of " + SKUS + ", got '" + sku + "'");
        }
        if (softDeleteDays < 1 || softDeleteDays > 365) {
            throw new ConfigException("CKPT_BOOTSTRAP_SOFT_DELETE_DAYS", "must be between 1 and 365, got " + softDeleteDays);
        }
        Names.container("CKPT_BOOTSTRAP_DEADLETTER_CONTAINER", deadLetterContainer);
    }

    private static void check(String setting, Pattern p, String value, String what) {
        if (!p.matcher(value).matches()) {
            throw new ConfigException(setting, "must be " + what + ", got '" + value + "'");
        }
    }

    /** Reads only the CKPT_BOOTSTRAP_* settings (the command-line entry point needs no others). */
    public static BootstrapDefaults fromMap(java.util.Map<String, String> env) {
        return read(new Settings(env));
    }

    static BootstrapDefaults read(Settings s) {
        return new BootstrapDefaults(
                s.optional("CKPT_BOOTSTRAP_SUBSCRIPTION_ID"),
                s.optional("CKPT_BOOTSTRAP_RESOURCE_GROUP"),
                s.optional("CKPT_BOOTSTRAP_LOCATION"),
                s.optional("CKPT_BOOTSTRAP_ACCOUNT_NAME"),
                s.string("CKPT_BOOTSTRAP_SKU", "Standard_LRS"),
                s.optional("CKPT_BOOTSTRAP_PRINCIPAL_ID"),
                s.optional("CKPT_BOOTSTRAP_FUNCTION_APP_ID"),
                (int) s.integer("CKPT_BOOTSTRAP_SOFT_DELETE_DAYS", 7, 1, 365),
                s.bool("CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS", false),
                s.string("CKPT_BOOTSTRAP_DEADLETTER_CONTAINER", "eventgrid-deadletter"));
    }
}
