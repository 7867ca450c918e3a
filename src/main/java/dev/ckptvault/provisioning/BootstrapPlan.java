package dev.ckptvault.provisioning;

import dev.ckptvault.config.BootstrapDefaults;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.error.ConflictException;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import dev.ckptvault.config.Names;

/**
 * Everything one bootstrap run provisions in Azure, already validated. The admin route builds it
 * from the app's settings, the command line from its flags; a missing value is named by
 * {@code names} so the error speaks the caller's language (setting or flag).
 *
 * @param location      needed only to create the resource group or the account
 * @param principalId   the app identity's object id; role assignments are skipped without it
 * @param functionAppId the function app's resource id; the event subscription is skipped without it
 * @param keysContainer the private container of the app's token-signing keys and revocation markers
 * @param previousVersionDays days after a checkpoint blob version was written before the lifecycle
 *                      rule deletes it once it is a previous version; empty: an existing rule keeps
 *                      its days, a new one gets the soft delete days (so the admin route, which has
 *                      no setting for it, never undoes what Bicep or the command line set)
 */
public record BootstrapPlan(String subscriptionId, String resourceGroup, boolean createResourceGroup,
                            Optional<String> location, String accountName, String sku,
                            boolean allowSharedKeyAccess, int softDeleteDays, String container,
                            String indexTable, String deadLetterContainer, Optional<String> principalId,
                            Optional<String> functionAppId, String functionName, Names names,
                            String keysContainer, Optional<Integer> previousVersionDays) {
    /** The blob event function's name in this app (docs/design.md: the EventGridTrigger function). */
    public static final String BLOB_EVENTS_FUNCTION = "BlobEvents";
    public static final String EVENT_SUBSCRIPTION_NAME = "ckptvaultblobevents";
    /** infra/main.bicep's default for keysContainer. */
    public static final String KEYS_CONTAINER = "ckptvault-keys";
    /** The one lifecycle rule bootstrap owns in the account's management policy. */
    public static final String LIFECYCLE_RULE = "ckptvault-previous-versions";

    /** How the caller names each input, for error messages. */
    public record Names(String subscription, String resourceGroup, String location, String account) {
        public static final Names SETTINGS = new Names("CKPT_BOOTSTRAP_SUBSCRIPTION_ID",
                "CKPT_BOOTSTRAP_RESOURCE_GROUP", "CKPT_BOOTSTRAP_LOCATION", "CKPT_BOOTSTRAP_ACCOUNT_NAME");
        public static final Names FLAGS = new Names("--subscription", "--resource-group", "--location", "--account");
    }

    public BootstrapPlan {
        Objects.requireNonNull(subscriptionId, "subscriptionId");
        Objects.requireNonNull(resourceGroup, "resourceGroup");
        Objects.requireNonNull(accountName, "accountName");
        Objects.requireNonNull(functionName, "functionName");
        Objects.requireNonNull(keysContainer, "keysContainer");
        Objects.requireNonNull(previousVersionDays, "previousVersionDays");
    }

    /** The plan of the admin route: the app's own settings. */
    public static BootstrapPlan fromConfig(CkptConfig config) {
        return of(config.bootstrap(), config.storage(), false, config.container(), config.indexTable(),
                BLOB_EVENTS_FUNCTION, Names.SETTINGS).withKeysContainer(config.keysContainer());
    }

    public static BootstrapPlan of(BootstrapDefaults b, StorageSettings storage, boolean createResourceGroup,
                                   String container, String indexTable, String functionName, Names names) {
        String subscription = b.subscriptionId().orElseThrow(() -> missing(names.subscription(), "the subscription id"));
        String group = b.resourceGroup().orElseThrow(() -> missing(names.resourceGroup(), "the resource group"));
        String account = b.accountName().or(() -> Optional.ofNullable(storage).flatMap(BootstrapPlan::accountOf))
                .orElseThrow(() -> missing(names.account(), "the storage account name"));
        return new BootstrapPlan(subscription, group, createResourceGroup, b.location(), account, b.sku(), b.allowSharedKeyAccess(), b.softDeleteDays(),
                container, indexTable, b.deadLetterContainer(), b.principalId(), b.functionAppId(), functionName,
                names, KEYS_CONTAINER, Optional.empty());
    }

    public BootstrapPlan withKeysContainer(String name) {
        return new BootstrapPlan(subscriptionId, resourceGroup, createResourceGroup, location, accountName, sku,
                allowSharedKeyAccess, softDeleteDays, container, indexTable, deadLetterContainer, principalId,
                functionAppId, functionName, names, name, previousVersionDays);
    }

    public BootstrapPlan withPreviousVersionDays(int days) {
        return new BootstrapPlan(subscriptionId, resourceGroup, createResourceGroup, location, accountName, sku,
                allowSharedKeyAccess, softDeleteDays, container, indexTable, deadLetterContainer, principalId,
                functionAppId, functionName, names, keysContainer, Optional.of(days));
    }

    /** The account name the storage setting already points at, when it names one. */
    static Optional<String> accountOf(StorageSettings s) {
        if (s.usesConnectionString()) {
            for (String part : s.effectiveConnectionString().split(";")) {
                int eq = part.indexOf('=');
                if (eq > 0 && part.substring(0, eq).trim().equalsIgnoreCase("AccountName")) {
                    return Optional.of(part.substring(eq + 1).trim());
                }
            }
            return Optional.empty();
        }
        String host = s.blobServiceUri().getHost();
        int dot = host.indexOf('.');
        return dot > 0 ? Optional.of(host.substring(0, dot).toLowerCase(Locale.ROOT)) : Optional.empty();
    }

    static ConflictException missing(String name, String what) {
        return new ConflictException("BootstrapNotConfigured",
                "bootstrap needs " + what + ": set " + name, name);
    }

    /** The location, or a 409 naming the setting or flag that would give it. */
    public String requireLocation(String forWhat) {
        return location.orElseThrow(() -> missing(names.location(), "a location to create " + forWhat));
    }

    public String accountId() {
        return "/subscriptions/" + subscriptionId + "/resourceGroups/" + resourceGroup
                + "/providers/Microsoft.Storage/storageAccounts/" + accountName;
    }

    public String resourceGroupId() {
        return "/subscriptions/" + subscriptionId + "/resourceGroups/" + resourceGroup;
    }

    /** Event Grid allows one system topic per source; this name is used only when none exists. */
    public String systemTopicName() {
        return accountName + "-events";
    }

    public String containerScope(String name) {
        return accountId() + "/blobServices/default/containers/" + name;
    }

    /** A table's own scope, the narrowest a table data role can be assigned at. */
    public String tableScope(String name) {
        return accountId() + "/tableServices/default/tables/" + name;
    }
}
