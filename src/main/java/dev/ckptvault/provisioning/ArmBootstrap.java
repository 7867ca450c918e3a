package dev.ckptvault.provisioning;

import com.azure.core.management.exception.ManagementException;
import com.azure.core.util.Context;
import com.azure.resourcemanager.authorization.fluent.models.RoleAssignmentInner;
import com.azure.resourcemanager.authorization.models.PrincipalType;
import com.azure.resourcemanager.authorization.models.RoleAssignmentCreateParameters;
import com.azure.resourcemanager.resources.fluent.models.ResourceGroupInner;
import com.azure.resourcemanager.storage.fluent.models.BlobContainerInner;
import com.azure.resourcemanager.storage.fluent.models.BlobServicePropertiesInner;
import com.azure.resourcemanager.storage.fluent.models.ManagementPolicyInner;
import com.azure.resourcemanager.storage.fluent.models.StorageAccountInner;
import com.azure.resourcemanager.storage.fluent.models.TableInner;
import com.azure.resourcemanager.storage.models.DateAfterCreation;
import com.azure.resourcemanager.storage.models.DeleteRetentionPolicy;
import com.azure.resourcemanager.storage.models.Kind;
import com.azure.resourcemanager.storage.models.ManagementPolicyAction;
import com.azure.resourcemanager.storage.models.ManagementPolicyDefinition;
import com.azure.resourcemanager.storage.models.ManagementPolicyFilter;
import com.azure.resourcemanager.storage.models.ManagementPolicyName;
import com.azure.resourcemanager.storage.models.ManagementPolicyRule;
import com.azure.resourcemanager.storage.models.ManagementPolicySchema;
import com.azure.resourcemanager.storage.models.ManagementPolicyVersion;
import com.azure.resourcemanager.storage.models.MinimumTlsVersion;
import com.azure.resourcemanager.storage.models.PublicAccess;
import com.azure.resourcemanager.storage.models.RuleType;
import com.azure.resourcemanager.storage.models.Sku;
import com.azure.resourcemanager.storage.models.SkuName;
import com.azure.resourcemanager.storage.models.StorageAccountCreateParameters;
import com.azure.resourcemanager.storage.models.StorageAccountUpdateParameters;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.config.Names;

/**
 * Provisions the checkpoint account and everything around it through Azure Resource Manager.
 * Every step reads first, compares with the plan and writes only what differs, so a second run
 * issues no write at all. Steps run in dependency order; a failed step stops the run with an
 * error naming the step (and for a refusal, the role needed), and a rerun resumes from there.
 */
public final class ArmBootstrap {
    static final String STORAGE_ROLE = "Storage Account Contributor (or Contributor) on the resource group";
    static final String RBAC_ROLE =
            "Role Based Access Control Administrator (or User Access Administrator, or Owner) on the storage account";

    private final ArmConnection arm;
    private final EventGridSetup eventGrid;

    public ArmBootstrap(ArmConnection arm) {
        this.arm = arm;
        this.eventGrid = new EventGridSetup(arm);
    }

    public BootstrapReport run(BootstrapPlan plan) {
        BootstrapReport report = new BootstrapReport("azure");
        resourceGroup(plan, report);
        StorageAccountInner account = storageAccount(plan, report);
        report.endpoint("blob", account.primaryEndpoints() == null ? null : account.primaryEndpoints().blob());
        report.endpoint("table", account.primaryEndpoints() == null ? null : account.primaryEndpoints().table());
        blobService(plan, report);
        container(plan, plan.container(), "container", report);
        container(plan, plan.keysContainer(), "keysContainer", report);
        container(plan, plan.deadLetterContainer(), "deadLetterContainer", report);
        table(plan, report);
        lifecyclePolicy(plan, report);
        if (plan.principalId().isPresent()) {
            String principal = plan.principalId().get();
            for (AppRole r : appRoles(plan)) {
                roleAssignment(plan, r.step(), r.scope(), principal, r.role(), report);
            }
        } else {
            report.skipped("appRoles", "no app principal id given (" + (plan.names() == BootstrapPlan.Names.FLAGS
                    ? "--principal-id" : "CKPT_BOOTSTRAP_PRINCIPAL_ID") + "): no role assignments for the app");
        }
        EventGridSetup.Topic topic = eventGrid.systemTopic(plan, account.location(), report);
        // Event Grid writes dead-lettered events with the topic's own identity: it may write to
        // the dead-letter container and nowhere else.
        roleAssignment(plan, "topicDeadLetterRole", plan.containerScope(plan.deadLetterContainer()),
                topic.principalId(), BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR, report);
        if (plan.functionAppId().isPresent()) {
            eventGrid.eventSubscription(plan, topic, report);
        } else {
            report.skipped("eventSubscription", "no function app resource id given ("
                    + (plan.names() == BootstrapPlan.Names.FLAGS ? "--function-app-id" : "CKPT_BOOTSTRAP_FUNCTION_APP_ID")
                    + "): deploy the app, then run bootstrap again");
        }
        return report;
    }

    /** One data role of the app identity, at the narrowest scope it works at. */
    record AppRole(String step, String scope, BuiltInRole role) {
    }

    /**
     * The app's roles: data roles on its two containers and its table only. Storage Blob Delegator
     * (no data action) stays on the account: Get User Delegation Key is a blob service operation,
     * and Azure documents the role for it at account, resource group or subscription scope.
     */
    static List<AppRole> appRoles(BootstrapPlan plan) {
        BuiltInRole blob = BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR;
        BuiltInRole table = BuiltInRole.STORAGE_TABLE_DATA_CONTRIBUTOR;
        BuiltInRole delegator = BuiltInRole.STORAGE_BLOB_DELEGATOR;
        return List.of(
                new AppRole("appRole:" + blob.displayName() + " on container " + plan.container(),
                        plan.containerScope(plan.container()), blob),
                new AppRole("appRole:" + blob.displayName() + " on container " + plan.keysContainer(),
                        plan.containerScope(plan.keysContainer()), blob),
                new AppRole("appRole:" + table.displayName() + " on table " + plan.indexTable(),
                        plan.tableScope(plan.indexTable()), table),
                new AppRole("appRole:" + delegator.displayName() + " on the account", plan.accountId(), delegator));
    }

    private void resourceGroup(BootstrapPlan plan, BootstrapReport report) {
        if (!plan.createResourceGroup()) {
            report.skipped("resourceGroup", "not asked to create it (--create-resource-group); it must exist");
            return;
        }
        String role = "Contributor on the subscription";
        Optional<ResourceGroupInner> rg = ArmErrors.during("resourceGroup", role, () -> orEmpty(() ->
                arm.resources().getResourceGroups().getWithResponse(plan.resourceGroup(), Context.NONE).getValue()));
        if (rg.isPresent()) {
            report.found("resourceGroup", plan.resourceGroupId());
            return;
        }
        String location = plan.requireLocation("the resource group");
        ArmErrors.during("resourceGroup", role, () -> arm.resources().getResourceGroups()
                .createOrUpdate(plan.resourceGroup(), new ResourceGroupInner().withLocation(location)));
        report.created("resourceGroup", plan.resourceGroupId());
    }

    private StorageAccountInner storageAccount(BootstrapPlan plan, BootstrapReport report) {
        Optional<StorageAccountInner> existing = ArmErrors.during("storageAccount", STORAGE_ROLE, () -> orEmpty(() ->
                arm.storage().getStorageAccounts().getByResourceGroupWithResponse(
                        plan.resourceGroup(), plan.accountName(), null, Context.NONE).getValue()));
        if (existing.isEmpty()) {
            String location = plan.requireLocation("the storage account");
            StorageAccountCreateParameters create = new StorageAccountCreateParameters()
                    .withSku(new Sku().withName(SkuName.fromString(plan.sku())))
                    .withKind(Kind.STORAGE_V2)
                    .withLocation(location)
                    .withEnableHttpsTrafficOnly(true)
                    .withMinimumTlsVersion(MinimumTlsVersion.TLS1_2)
                    .withAllowBlobPublicAccess(false)
                    .withAllowSharedKeyAccess(plan.allowSharedKeyAccess());
            StorageAccountInner created = ArmErrors.during("storageAccount", STORAGE_ROLE, () -> arm.storage()
                    .getStorageAccounts().create(plan.resourceGroup(), plan.accountName(), create));
            report.created("storageAccount", plan.accountId());
            return created;
        }
        StorageAccountInner a = existing.get();
        StorageAccountUpdateParameters update = new StorageAccountUpdateParameters();
        List<String> diffs = new ArrayList<>();
        if (a.sku() == null || !plan.sku().equalsIgnoreCase(a.sku().name().toString())) {
            update.withSku(new Sku().withName(SkuName.fromString(plan.sku())));
            diffs.add("sku " + (a.sku() == null ? null : a.sku().name()) + " -> " + plan.sku());
        }
        if (!Kind.STORAGE_V2.equals(a.kind())) {
            update.withKind(Kind.STORAGE_V2);
            diffs.add("kind " + a.kind() + " -> StorageV2");
        }
        if (!Boolean.TRUE.equals(a.enableHttpsTrafficOnly())) {
            update.withEnableHttpsTrafficOnly(true);
            diffs.add("supportsHttpsTrafficOnly " + a.enableHttpsTrafficOnly() + " -> true");
        }
        // TLS 1.3 is stricter than the plan's minimum: keep it.
        if (!MinimumTlsVersion.TLS1_2.equals(a.minimumTlsVersion()) && !MinimumTlsVersion.TLS1_3.equals(a.minimumTlsVersion())) {
            update.withMinimumTlsVersion(MinimumTlsVersion.TLS1_2);
            diffs.add("minimumTlsVersion " + a.minimumTlsVersion() + " -> TLS1_2");
        }
        if (!Boolean.FALSE.equals(a.allowBlobPublicAccess())) {
            update.withAllowBlobPublicAccess(false);
            diffs.add("allowBlobPublicAccess " + a.allowBlobPublicAccess() + " -> false");
        }
        // ARM leaves allowSharedKeyAccess out (null) when it was never set: that means allowed.
        boolean sharedKey = a.allowSharedKeyAccess() == null || a.allowSharedKeyAccess();
        if (sharedKey != plan.allowSharedKeyAccess()) {
            update.withAllowSharedKeyAccess(plan.allowSharedKeyAccess());
            diffs.add("allowSharedKeyAccess " + sharedKey + " -> " + plan.allowSharedKeyAccess());
        }
        if (diffs.isEmpty()) {
            report.found("storageAccount", plan.accountId());
            return a;
        }
        StorageAccountInner updated = ArmErrors.during("storageAccount", STORAGE_ROLE, () -> arm.storage()
                .getStorageAccounts().update(plan.resourceGroup(), plan.accountName(), update));
        report.changed("storageAccount", plan.accountId(), String.join("; ", diffs));
        return updated;
    }

    /**
     * Blob soft delete and blob versioning, read together and written with one PUT when either
     * differs. The PUT carries back every writable property read (CORS, change feed, container
     * soft delete...), so nothing else the account has configured changes.
     */
    private void blobService(BootstrapPlan plan, BootstrapReport report) {
        String id = plan.accountId() + "/blobServices/default";
        BlobServicePropertiesInner current = ArmErrors.during("blobService", STORAGE_ROLE, () -> arm.storage()
                .getBlobServices().getServiceProperties(plan.resourceGroup(), plan.accountName()));
        DeleteRetentionPolicy p = current.deleteRetentionPolicy();
        boolean softDeleteOn = p != null && Boolean.TRUE.equals(p.enabled());
        boolean softDeleteAsPlanned = softDeleteOn && p.days() != null && p.days() == plan.softDeleteDays();
        boolean versioningOn = Boolean.TRUE.equals(current.isVersioningEnabled());
        if (softDeleteAsPlanned && versioningOn) {
            report.found("blobSoftDelete", id);
            report.found("blobVersioning", id);
            return;
        }
        BlobServicePropertiesInner wanted = new BlobServicePropertiesInner()
                .withCors(current.cors())
                .withDefaultServiceVersion(current.defaultServiceVersion())
                .withChangeFeed(current.changeFeed())
                .withRestorePolicy(current.restorePolicy())
                .withContainerDeleteRetentionPolicy(current.containerDeleteRetentionPolicy())
                .withLastAccessTimeTrackingPolicy(current.lastAccessTimeTrackingPolicy())
                .withDeleteRetentionPolicy(softDeleteAsPlanned ? p
                        : new DeleteRetentionPolicy().withEnabled(true).withDays(plan.softDeleteDays()))
                .withIsVersioningEnabled(true);
        ArmErrors.during("blobService", STORAGE_ROLE, () -> arm.storage().getBlobServices()
                .setServiceProperties(plan.resourceGroup(), plan.accountName(), wanted));
        if (softDeleteAsPlanned) {
            report.found("blobSoftDelete", id);
        } else {
            report.changed("blobSoftDelete", id, "deleteRetentionPolicy " + (softDeleteOn ? p.days() + " days" : "off")
                    + " -> " + plan.softDeleteDays() + " days");
        }
        if (versioningOn) {
            report.found("blobVersioning", id);
        } else {
            report.changed("blobVersioning", id, "isVersioningEnabled " + current.isVersioningEnabled() + " -> true");
        }
    }

    private void container(BootstrapPlan plan, String name, String step, BootstrapReport report) {
        String id = plan.containerScope(name);
        Optional<BlobContainerInner> existing = ArmErrors.during(step, STORAGE_ROLE, () -> orEmpty(() ->
                arm.storage().getBlobContainers().getWithResponse(plan.resourceGroup(), plan.accountName(), name,
                        Context.NONE).getValue()));
        if (existing.isEmpty()) {
            ArmErrors.during(step, STORAGE_ROLE, () -> arm.storage().getBlobContainers().create(plan.resourceGroup(),
                    plan.accountName(), name, new BlobContainerInner().withPublicAccess(PublicAccess.NONE)));
            report.created(step, id);
            return;
        }
        PublicAccess access = existing.get().publicAccess();
        if (access == null || PublicAccess.NONE.equals(access)) {
            report.found(step, id);
            return;
        }
        ArmErrors.during(step, STORAGE_ROLE, () -> arm.storage().getBlobContainers().update(plan.resourceGroup(),
                plan.accountName(), name, new BlobContainerInner().withPublicAccess(PublicAccess.NONE)));
        report.changed(step, id, "publicAccess " + access + " -> None");
    }

    private void table(BootstrapPlan plan, BootstrapReport report) {
        String id = plan.tableScope(plan.indexTable());
        Optional<TableInner> existing = ArmErrors.during("indexTable", STORAGE_ROLE, () -> orEmpty(() ->
                arm.storage().getTables().getWithResponse(plan.resourceGroup(), plan.accountName(), plan.indexTable(),
                        Context.NONE).getValue()));
        if (existing.isPresent()) {
            report.found("indexTable", id);
            return;
        }
        ArmErrors.during("indexTable", STORAGE_ROLE, () -> arm.storage().getTables().createWithResponse(
                plan.resourceGroup(), plan.accountName(), plan.indexTable(), null, Context.NONE));
        report.created("indexTable", id);
    }

    /**
     * The lifecycle rule deleting previous versions of checkpoint blobs. The account has one
     * management policy, read and written whole: rules of others are kept as they are, and only the
     * rule named {@link BootstrapPlan#LIFECYCLE_RULE} is added or brought back to exactly the plan.
     */
    private void lifecyclePolicy(BootstrapPlan plan, BootstrapReport report) {
        String id = plan.accountId() + "/managementPolicies/default";
        Optional<ManagementPolicyInner> existing = ArmErrors.during("lifecyclePolicy", STORAGE_ROLE, () -> orEmpty(() ->
                arm.storage().getManagementPolicies().getWithResponse(plan.resourceGroup(), plan.accountName(),
                        ManagementPolicyName.DEFAULT, Context.NONE).getValue()));
        List<ManagementPolicyRule> rules = new ArrayList<>(existing.map(ManagementPolicyInner::policy)
                .map(ManagementPolicySchema::rules).orElse(List.of()));
        Optional<ManagementPolicyRule> ours = rules.stream()
                .filter(r -> BootstrapPlan.LIFECYCLE_RULE.equals(r.name())).findFirst();
        Optional<Integer> ourDays = ours.map(ArmBootstrap::versionDeleteDays);
        int days = plan.previousVersionDays().or(() -> ourDays).orElse(plan.softDeleteDays());
        ManagementPolicyRule wanted = lifecycleRule(plan.container(), days);
        if (ours.isPresent() && sameRule(ours.get(), wanted)) {
            report.found("lifecyclePolicy", id);
            return;
        }
        rules.removeIf(r -> BootstrapPlan.LIFECYCLE_RULE.equals(r.name()));
        rules.add(wanted);
        ArmErrors.during("lifecyclePolicy", STORAGE_ROLE, () -> arm.storage().getManagementPolicies().createOrUpdate(
                plan.resourceGroup(), plan.accountName(), ManagementPolicyName.DEFAULT,
                new ManagementPolicyInner().withPolicy(new ManagementPolicySchema().withRules(rules))));
        if (existing.isEmpty()) {
            report.created("lifecyclePolicy", id);
        } else if (ours.isEmpty()) {
            report.changed("lifecyclePolicy", id, "rule " + BootstrapPlan.LIFECYCLE_RULE + " added to "
                    + (rules.size() - 1) + " existing rule(s)");
        } else {
            report.changed("lifecyclePolicy", id, "rule " + BootstrapPlan.LIFECYCLE_RULE + " brought back to: "
                    + describe(wanted));
        }
    }

    /**
     * Previous versions of blobs in {@code container} are deleted {@code days} days after the
     * version was written. Version actions never act on the current version.
     */
    static ManagementPolicyRule lifecycleRule(String container, int days) {
        return new ManagementPolicyRule()
                .withName(BootstrapPlan.LIFECYCLE_RULE)
                .withEnabled(true)
                .withType(RuleType.LIFECYCLE)
                .withDefinition(new ManagementPolicyDefinition()
                        .withFilters(new ManagementPolicyFilter()
                                .withBlobTypes(List.of("blockBlob"))
                                // The slash keeps containers whose names only begin the same way out.
                                .withPrefixMatch(List.of(container + "/")))
                        .withActions(new ManagementPolicyAction().withVersion(new ManagementPolicyVersion()
                                .withDelete(new DateAfterCreation().withDaysAfterCreationGreaterThan(days)))));
    }

    private static Integer versionDeleteDays(ManagementPolicyRule r) {
        if (r.definition() == null || r.definition().actions() == null || r.definition().actions().version() == null
                || r.definition().actions().version().delete() == null) {
            return null;
        }
        return Math.round(r.definition().actions().version().delete().daysAfterCreationGreaterThan());
    }

    /** Exactly the wanted rule: an extra action (a base blob delete, say) counts as a difference. */
    static boolean sameRule(ManagementPolicyRule actual, ManagementPolicyRule wanted) {
        return describe(actual).equals(describe(wanted));
    }

    /** A rule in a canonical text form: what it filters, what it does, and whether it is on. */
    static String describe(ManagementPolicyRule r) {
        // Rules are enabled unless they say otherwise.
        boolean enabled = r.enabled() == null || r.enabled();
        ManagementPolicyDefinition d = r.definition();
        ManagementPolicyFilter f = d == null ? null : d.filters();
        ManagementPolicyAction a = d == null ? null : d.actions();
        return "enabled=" + enabled + ", type=" + r.type()
                + ", blobTypes=" + lower(f == null ? null : f.blobTypes())
                + ", prefixMatch=" + (f == null || f.prefixMatch() == null ? List.of() : f.prefixMatch())
                + ", blobIndexMatch=" + (f == null || f.blobIndexMatch() == null ? 0 : f.blobIndexMatch().size())
                + ", baseBlob=" + (a == null || a.baseBlob() == null ? "none" : "set")
                + ", snapshot=" + (a == null || a.snapshot() == null ? "none" : "set")
                + ", version=" + (a == null ? "none" : version(a.version()));
    }

    private static String version(ManagementPolicyVersion v) {
        if (v == null) {
            return "none";
        }
        List<String> parts = new ArrayList<>();
        if (v.delete() != null) {
            parts.add("delete after " + Math.round(v.delete().daysAfterCreationGreaterThan()) + " days");
        }
        if (v.tierToCool() != null || v.tierToCold() != null || v.tierToArchive() != null || v.tierToHot() != null) {
            parts.add("tiering");
        }
        return parts.isEmpty() ? "none" : String.join(" + ", parts);
    }

    private static List<String> lower(List<String> values) {
        return values == null ? List.of() : values.stream().map(v -> v.toLowerCase(Locale.ROOT)).sorted().toList();
    }

    /**
     * Grants {@code role} to {@code principalId} on {@code scope} unless an assignment of that
     * role already covers the scope (on it or inherited from above, whatever its name: Bicep and
     * the portal name theirs differently).
     */
    void roleAssignment(BootstrapPlan plan, String step, String scope, String principalId, BuiltInRole role,
                        BootstrapReport report) {
        // The SDK puts both the scope and the filter into the URL as given: no leading slash, and
        // the filter already encoded.
        String filter = URLEncoder.encode("principalId eq '" + principalId + "'", StandardCharsets.UTF_8)
                .replace("+", "%20");
        List<RoleAssignmentInner> existing = ArmErrors.during(step, RBAC_ROLE, () -> new ArrayList<>(arm.authorization()
                .getRoleAssignments().listForScope(relative(scope), filter, null, null, Context.NONE).stream().toList()));
        for (RoleAssignmentInner a : existing) {
            if (role.matches(a.roleDefinitionId()) && principalId.equalsIgnoreCase(a.principalId())
                    && covers(a.scope(), scope)) {
                report.found(step, a.id());
                if (!a.scope().equalsIgnoreCase(scope)) {
                    // Bootstrap never removes role assignments, so a broader one from an earlier
                    // setup stays in force until the operator removes it.
                    report.note(step, role.displayName() + " is held at " + a.scope() + ", broader than " + scope
                            + "; to narrow it, remove that assignment (az role assignment delete --ids " + a.id()
                            + ") and run bootstrap again");
                }
                return;
            }
        }
        String name = UUID.nameUUIDFromBytes((scope.toLowerCase(Locale.ROOT) + "|" + principalId + "|" + role.id())
                .getBytes(StandardCharsets.UTF_8)).toString();
        RoleAssignmentCreateParameters create = new RoleAssignmentCreateParameters()
                .withRoleDefinitionId(role.definitionId(plan.subscriptionId()))
                .withPrincipalId(principalId)
                .withPrincipalType(PrincipalType.SERVICE_PRINCIPAL);
        String id = scope + "/providers/Microsoft.Authorization/roleAssignments/" + name;
        try {
            ArmErrors.during(step, RBAC_ROLE, () -> arm.authorization().getRoleAssignments()
                    .create(relative(scope), name, create));
            report.created(step, id);
        } catch (dev.ckptvault.error.ConflictException e) {
            // Another run (or the portal) made the same assignment between our read and write.
            if (!"RoleAssignmentExists".equals(e.code())) {
                throw e;
            }
            report.found(step, id);
        }
    }

    /** A resource id as the SDK's {scope}/{resourceId} URL templates take it: without the leading slash. */
    static String relative(String id) {
        return id.startsWith("/") ? id.substring(1) : id;
    }

    static boolean covers(String assignmentScope, String scope) {
        if (assignmentScope == null) {
            return false;
        }
        String a = assignmentScope.toLowerCase(Locale.ROOT);
        String s = scope.toLowerCase(Locale.ROOT);
        return a.equals("/") || s.equals(a) || s.startsWith(a.endsWith("/") ? a : a + "/");
    }

    /** The resource, or empty when ARM answers 404. */
    static <T> Optional<T> orEmpty(java.util.function.Supplier<T> get) {
        try {
            return Optional.ofNullable(get.get());
        } catch (ManagementException e) {
            if (e.getResponse() != null && e.getResponse().getStatusCode() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }
}
