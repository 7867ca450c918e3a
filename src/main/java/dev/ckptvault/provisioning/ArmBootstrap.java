package dev.ckptvault.provisioning;

import com.azure.core.management.exception.ManagementException;
import com.azure.core.util.Context;
import com.azure.resourcemanager.authorization.fluent.models.RoleAssignmentInner;
import com.azure.resourcemanager.authorization.models.PrincipalType;
import com.azure.resourcemanager.authorization.models.RoleAssignmentCreateParameters;
import com.azure.resourcemanager.resources.fluent.models.ResourceGroupInner;
import com.azure.resourcemanager.storage.fluent.models.BlobContainerInner;
import com.azure.resourcemanager.storage.fluent.models.BlobServicePropertiesInner;
import com.azure.resourcemanager.storage.fluent.models.StorageAccountInner;
import com.azure.resourcemanager.storage.fluent.models.TableInner;
import com.azure.resourcemanager.storage.models.DeleteRetentionPolicy;
import com.azure.resourcemanager.storage.models.Kind;
import com.azure.resourcemanager.storage.models.MinimumTlsVersion;
import com.azure.resourcemanager.storage.models.PublicAccess;
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
        softDelete(plan, report);
        container(plan, plan.container(), "container", report);
        container(plan, plan.deadLetterContainer(), "deadLetterContainer", report);
        table(plan, report);
        if (plan.principalId().isPresent()) {
            String principal = plan.principalId().get();
            for (BuiltInRole role : List.of(BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR,
                    BuiltInRole.STORAGE_BLOB_DELEGATOR, BuiltInRole.STORAGE_TABLE_DATA_CONTRIBUTOR)) {
                roleAssignment(plan, "appRole:" + role.displayName(), plan.accountId(), principal, role, report);
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

    private void softDelete(BootstrapPlan plan, BootstrapReport report) {
        String id = plan.accountId() + "/blobServices/default";
        BlobServicePropertiesInner current = ArmErrors.during("blobSoftDelete", STORAGE_ROLE, () -> arm.storage()
                .getBlobServices().getServiceProperties(plan.resourceGroup(), plan.accountName()));
        DeleteRetentionPolicy p = current.deleteRetentionPolicy();
        boolean enabled = p != null && Boolean.TRUE.equals(p.enabled());
        if (enabled && p.days() != null && p.days() == plan.softDeleteDays()) {
            report.found("blobSoftDelete", id);
            return;
        }
        BlobServicePropertiesInner wanted = new BlobServicePropertiesInner().withDeleteRetentionPolicy(
                new DeleteRetentionPolicy().withEnabled(true).withDays(plan.softDeleteDays()));
        ArmErrors.during("blobSoftDelete", STORAGE_ROLE, () -> arm.storage().getBlobServices()
                .setServiceProperties(plan.resourceGroup(), plan.accountName(), wanted));
        report.changed("blobSoftDelete", id, "deleteRetentionPolicy " + (enabled ? p.days() + " days" : "off")
                + " -> " + plan.softDeleteDays() + " days");
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
        String id = plan.accountId() + "/tableServices/default/tables/" + plan.indexTable();
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
