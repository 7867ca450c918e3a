package dev.ckptvault.provisioning;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.config.BootstrapDefaults;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.json.Json;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import dev.ckptvault.config.Names;

/** Bootstrap through the SDK against a local ARM speaking the documented wire format. */
class ArmBootstrapTest {
    static final String SUB = "5b4b650e-28b9-4790-b3ab-ddbd88d727c4";
    static final String RG = "rg-ckpt";
    static final String ACCOUNT = "ckptstore01";
    static final String APP_PRINCIPAL = "2d5d7f76-8a3e-4d6d-a0c1-6b3f4f0d2a11";
    static final String RG_ID = "/subscriptions/" + SUB + "/resourceGroups/" + RG;
    static final String ACCOUNT_ID = RG_ID + "/providers/Microsoft.Storage/storageAccounts/" + ACCOUNT;
    static final String FUNCTION_APP = RG_ID + "/providers/Microsoft.Web/sites/func-ckpt";
    static final String TOPIC_ID = RG_ID + "/providers/Microsoft.EventGrid/systemTopics/" + ACCOUNT + "-events";
    static final String SUBSCRIPTION_ID = TOPIC_ID + "/eventSubscriptions/ckptvaultblobevents";
    static final String BLOB_SERVICE_ID = ACCOUNT_ID + "/blobServices/default";
    static final String POLICY_ID = ACCOUNT_ID + "/managementPolicies/default";
    static final String CHECKPOINTS_SCOPE = ACCOUNT_ID + "/blobServices/default/containers/checkpoints";
    static final String KEYS_SCOPE = ACCOUNT_ID + "/blobServices/default/containers/ckptvault-keys";
    static final String TABLE_SCOPE = ACCOUNT_ID + "/tableServices/default/tables/ckptindex";
    static final List<String> APP_ROLE_STEPS = List.of(
            "appRole:Storage Blob Data Contributor on container checkpoints",
            "appRole:Storage Blob Data Contributor on container ckptvault-keys",
            "appRole:Storage Table Data Contributor on table ckptindex",
            "appRole:Storage Blob Delegator on the account");

    FakeArm arm;

    @BeforeEach
    void start() throws Exception {
        arm = FakeArm.start();
    }

    @AfterEach
    void stop() {
        arm.close();
    }

    static Map<String, String> settings() {
        Map<String, String> s = new HashMap<>();
        s.put("CKPT_BOOTSTRAP_SUBSCRIPTION_ID", SUB);
        s.put("CKPT_BOOTSTRAP_RESOURCE_GROUP", RG);
        s.put("CKPT_BOOTSTRAP_LOCATION", "westeurope");
        s.put("CKPT_BOOTSTRAP_ACCOUNT_NAME", ACCOUNT);
        s.put("CKPT_BOOTSTRAP_PRINCIPAL_ID", APP_PRINCIPAL);
        s.put("CKPT_BOOTSTRAP_FUNCTION_APP_ID", FUNCTION_APP);
        return s;
    }

    static BootstrapPlan plan(Map<String, String> settings, boolean createResourceGroup) {
        return BootstrapPlan.of(BootstrapDefaults.fromMap(settings), null, createResourceGroup, "checkpoints",
                "ckptindex", BootstrapPlan.BLOB_EVENTS_FUNCTION, BootstrapPlan.Names.FLAGS);
    }

    BootstrapReport run(Map<String, String> settings, boolean createResourceGroup) {
        return new ArmBootstrap(arm.connection(SUB)).run(plan(settings, createResourceGroup));
    }

    void seedResourceGroup() {
        seedResourceGroup(arm);
    }

    static void seedResourceGroup(FakeArm arm) {
        ObjectNode rg = Json.MAPPER.createObjectNode().put("id", RG_ID).put("name", RG)
                .put("type", "Microsoft.Resources/resourceGroups").put("location", "westeurope");
        rg.set("properties", Json.MAPPER.createObjectNode().put("provisioningState", "Succeeded"));
        arm.seed(rg);
    }

    static List<String> steps(List<BootstrapReport.Item> items) {
        return items.stream().map(BootstrapReport.Item::step).toList();
    }

    static List<String> concat(List<String> a, List<String> b, List<String> c) {
        List<String> out = new java.util.ArrayList<>(a);
        out.addAll(b);
        out.addAll(c);
        return out;
    }

    /** The account as ARM reports an existing one, with the given blob service properties. */
    void seedAccount(ObjectNode blobServiceProperties) {
        seedResourceGroup();
        ObjectNode a = Json.MAPPER.createObjectNode().put("id", ACCOUNT_ID).put("name", ACCOUNT)
                .put("type", "Microsoft.Storage/storageAccounts").put("location", "westeurope").put("kind", "StorageV2");
        a.set("sku", Json.MAPPER.createObjectNode().put("name", "Standard_LRS").put("tier", "Standard"));
        ObjectNode p = Json.MAPPER.createObjectNode().put("supportsHttpsTrafficOnly", true).put("minimumTlsVersion", "TLS1_2")
                .put("allowBlobPublicAccess", false).put("allowSharedKeyAccess", false).put("provisioningState", "Succeeded");
        p.set("primaryEndpoints", Json.MAPPER.createObjectNode().put("blob", "https://" + ACCOUNT + ".blob.core.windows.net/")
                .put("table", "https://" + ACCOUNT + ".table.core.windows.net/"));
        a.set("properties", p);
        arm.seed(a);
        ObjectNode svc = Json.MAPPER.createObjectNode().put("id", BLOB_SERVICE_ID).put("name", "default")
                .put("type", "Microsoft.Storage/storageAccounts/blobServices");
        svc.set("properties", blobServiceProperties);
        arm.seed(svc);
    }

    /** A lifecycle rule in the wire shape of the ManagementPolicies reference. */
    static ObjectNode rule(String name, String prefix, int versionDays) {
        ObjectNode r = Json.MAPPER.createObjectNode().put("name", name).put("enabled", true).put("type", "Lifecycle");
        ObjectNode def = r.putObject("definition");
        ObjectNode filters = def.putObject("filters");
        filters.putArray("blobTypes").add("blockBlob");
        filters.putArray("prefixMatch").add(prefix);
        def.putObject("actions").putObject("version").putObject("delete").put("daysAfterCreationGreaterThan", versionDays);
        return r;
    }

    void seedPolicy(ObjectNode... rules) {
        ObjectNode policy = Json.MAPPER.createObjectNode().put("id", POLICY_ID).put("name", "DefaultManagementPolicy")
                .put("type", "Microsoft.Storage/storageAccounts/managementPolicies");
        ObjectNode props = policy.putObject("properties").put("lastModifiedTime", "2026-01-01T00:00:00.0000000Z");
        com.fasterxml.jackson.databind.node.ArrayNode list = props.putObject("policy").putArray("rules");
        for (ObjectNode r : rules) {
            list.add(r);
        }
        arm.seed(policy);
    }

    static JsonNode ruleNamed(JsonNode policyBody, String name) {
        for (JsonNode r : policyBody.path("properties").path("policy").path("rules")) {
            if (r.path("name").asText().equals(name)) {
                return r;
            }
        }
        throw new AssertionError("no rule " + name + " in " + policyBody);
    }

    @Test
    void freshSubscriptionGetsEverythingWithSecureDefaultsFieldByField() {
        BootstrapReport r = run(settings(), true);

        assertEquals(concat(List.of("resourceGroup", "storageAccount", "container", "keysContainer", "deadLetterContainer",
                "indexTable", "lifecyclePolicy"), APP_ROLE_STEPS, List.of("systemTopic", "topicDeadLetterRole", "eventSubscription")),
                steps(r.created()));
        assertEquals(List.of("blobSoftDelete", "blobVersioning"), steps(r.changed()));
        assertTrue(r.skipped().isEmpty(), r.skipped().toString());
        assertTrue(r.notes().isEmpty(), r.notes().toString());
        assertEquals("https://" + ACCOUNT + ".blob.core.windows.net/", r.endpoints().get("blob"));
        assertEquals("https://" + ACCOUNT + ".table.core.windows.net/", r.endpoints().get("table"));

        assertEquals("westeurope", arm.body("PUT", RG_ID).path("location").asText());

        JsonNode account = arm.body("PUT", ACCOUNT_ID);
        assertEquals("Standard_LRS", account.path("sku").path("name").asText());
        assertEquals("StorageV2", account.path("kind").asText());
        assertEquals("westeurope", account.path("location").asText());
        JsonNode ap = account.path("properties");
        assertTrue(ap.path("supportsHttpsTrafficOnly").asBoolean(false), ap.toString());
        assertEquals("TLS1_2", ap.path("minimumTlsVersion").asText());
        assertFalse(ap.path("allowBlobPublicAccess").asBoolean(true), ap.toString());
        assertFalse(ap.path("allowSharedKeyAccess").asBoolean(true), ap.toString());

        JsonNode blobService = arm.body("PUT", BLOB_SERVICE_ID).path("properties");
        JsonNode drp = blobService.path("deleteRetentionPolicy");
        assertTrue(drp.path("enabled").asBoolean(false));
        assertEquals(7, drp.path("days").asInt());
        assertTrue(blobService.path("isVersioningEnabled").asBoolean(false), "versioning on: " + blobService);
        assertTrue(arm.resource(BLOB_SERVICE_ID).path("properties").path("isVersioningEnabled").asBoolean(false));

        // Previous versions of checkpoint blobs go 7 days (the soft delete days) after they were written.
        JsonNode rule = ruleNamed(arm.body("PUT", POLICY_ID), "ckptvault-previous-versions");
        assertTrue(rule.path("enabled").asBoolean(false));
        assertEquals("Lifecycle", rule.path("type").asText());
        assertEquals(List.of("blockBlob"), Json.MAPPER.convertValue(rule.path("definition").path("filters").path("blobTypes"), List.class));
        assertEquals(List.of("checkpoints/"), Json.MAPPER.convertValue(rule.path("definition").path("filters").path("prefixMatch"), List.class));
        JsonNode actions = rule.path("definition").path("actions");
        assertEquals(7, actions.path("version").path("delete").path("daysAfterCreationGreaterThan").asInt());
        assertFalse(actions.has("baseBlob"), "never an action on current versions: " + actions);
        assertFalse(actions.has("snapshot"), actions.toString());

        for (String c : List.of("checkpoints", "ckptvault-keys", "eventgrid-deadletter")) {
            assertEquals("None", arm.body("PUT", ACCOUNT_ID + "/blobServices/default/containers/" + c)
                    .path("properties").path("publicAccess").asText(), c);
        }
        assertNotNull(arm.resource(ACCOUNT_ID + "/tableServices/default/tables/ckptindex"));

        List<FakeArm.Request> roles = arm.writes().stream()
                .filter(w -> w.path().contains("/providers/Microsoft.Authorization/roleAssignments/")).toList();
        assertEquals(5, roles.size(), roles.toString());
        // Data roles on the app's two containers and its table; only the Delegator (no data
        // action) on the account.
        java.util.Set<String> appRoles = new java.util.HashSet<>();
        for (FakeArm.Request w : roles) {
            JsonNode p = w.body().path("properties");
            assertEquals("ServicePrincipal", p.path("principalType").asText(), w.toString());
            assertTrue(p.path("roleDefinitionId").asText().startsWith("/subscriptions/" + SUB
                    + "/providers/Microsoft.Authorization/roleDefinitions/"), p.toString());
            if (p.path("principalId").asText().equals(APP_PRINCIPAL)) {
                String scope = w.path().substring(0, w.path().indexOf("/providers/Microsoft.Authorization/"));
                appRoles.add(p.path("roleDefinitionId").asText().replaceAll(".*/", "") + " @ " + scope);
            }
        }
        assertEquals(java.util.Set.of(
                BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR.id() + " @ " + CHECKPOINTS_SCOPE,
                BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR.id() + " @ " + KEYS_SCOPE,
                BuiltInRole.STORAGE_TABLE_DATA_CONTRIBUTOR.id() + " @ " + TABLE_SCOPE,
                BuiltInRole.STORAGE_BLOB_DELEGATOR.id() + " @ " + ACCOUNT_ID), appRoles);

        JsonNode topic = arm.body("PUT", TOPIC_ID);
        assertEquals("westeurope", topic.path("location").asText());
        assertEquals("SystemAssigned", topic.path("identity").path("type").asText());
        assertEquals(ACCOUNT_ID, topic.path("properties").path("source").asText());
        assertEquals("Microsoft.Storage.StorageAccounts", topic.path("properties").path("topicType").asText());

        // The topic's identity may write dead letters, and only into the dead-letter container.
        String topicPrincipal = arm.resource(TOPIC_ID).path("identity").path("principalId").asText();
        FakeArm.Request topicRole = roles.stream()
                .filter(w -> w.body().path("properties").path("principalId").asText().equals(topicPrincipal))
                .findFirst().orElseThrow(() -> new AssertionError("no role for the topic identity in " + roles));
        assertTrue(topicRole.path().startsWith(ACCOUNT_ID + "/blobServices/default/containers/eventgrid-deadletter/providers/"),
                topicRole.toString());
        assertTrue(topicRole.body().path("properties").path("roleDefinitionId").asText()
                .endsWith(BuiltInRole.STORAGE_BLOB_DATA_CONTRIBUTOR.id()));

        JsonNode es = arm.body("PUT", SUBSCRIPTION_ID).path("properties");
        assertEquals("AzureFunction", es.path("destination").path("endpointType").asText());
        assertEquals(FUNCTION_APP + "/functions/BlobEvents", es.path("destination").path("properties").path("resourceId").asText());
        assertEquals(1, es.path("destination").path("properties").path("maxEventsPerBatch").asInt());
        assertEquals(List.of("Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"),
                Json.MAPPER.convertValue(es.path("filter").path("includedEventTypes"), List.class));
        assertEquals("/blobServices/default/containers/checkpoints/", es.path("filter").path("subjectBeginsWith").asText());
        assertEquals(30, es.path("retryPolicy").path("maxDeliveryAttempts").asInt());
        assertEquals(1440, es.path("retryPolicy").path("eventTimeToLiveInMinutes").asInt());
        JsonNode dl = es.path("deadLetterWithResourceIdentity");
        assertEquals("SystemAssigned", dl.path("identity").path("type").asText());
        assertEquals("StorageBlob", dl.path("deadLetterDestination").path("endpointType").asText());
        assertEquals(ACCOUNT_ID, dl.path("deadLetterDestination").path("properties").path("resourceId").asText());
        assertEquals("eventgrid-deadletter", dl.path("deadLetterDestination").path("properties").path("blobContainerName").asText());
        assertFalse(es.toString().toLowerCase().contains("key"), "no key anywhere in the subscription: " + es);
        assertFalse(es.has("deadLetterDestination"), "dead letters are written with the topic's identity, not a key");
    }

    @Test
    void longRunningOperationsArePolledToCompletion() {
        arm.pollsBeforeDone = 2;
        run(settings(), true);
        List<String> gets = arm.requests().stream().filter(r -> r.method().equals("GET")).map(FakeArm.Request::path).toList();
        assertEquals(3, gets.stream().filter(p -> p.contains("/providers/Microsoft.Storage/locations/westeurope/asyncoperations/")
                || p.matches(".*/providers/Microsoft.Storage/locations/l/asyncoperations/.*")).count(),
                "storage account create: 202 + Location polled until 200: " + gets);
        assertEquals(6, gets.stream().filter(p -> p.contains("/providers/Microsoft.EventGrid/locations/westeurope/operationsStatus/")).count(),
                "topic and subscription: Azure-AsyncOperation polled until Succeeded: " + gets);
        assertEquals("Succeeded", arm.resource(TOPIC_ID).path("properties").path("provisioningState").asText());
        assertEquals("Succeeded", arm.resource(SUBSCRIPTION_ID).path("properties").path("provisioningState").asText());
    }

    @Test
    void secondRunWritesNothing() {
        run(settings(), true);
        arm.clearRequests();

        BootstrapReport again = run(settings(), true);

        assertEquals(List.of(), arm.writes(), "a second run only reads");
        assertTrue(again.created().isEmpty(), again.created().toString());
        assertTrue(again.changed().isEmpty(), again.changed().toString());
        assertEquals(concat(List.of("resourceGroup", "storageAccount", "blobSoftDelete", "blobVersioning", "container",
                "keysContainer", "deadLetterContainer", "indexTable", "lifecyclePolicy"), APP_ROLE_STEPS,
                List.of("systemTopic", "topicDeadLetterRole", "eventSubscription")), steps(again.found()));
    }

    @Test
    void everyRequestUsesTheDocumentedApiVersionOfItsResourceType() {
        run(settings(), true);
        for (FakeArm.Request r : arm.requests()) {
            String expected = r.path().contains("/Microsoft.Authorization/") ? FakeArm.AUTHORIZATION_API
                    : r.path().contains("/Microsoft.EventGrid/") ? FakeArm.EVENTGRID_API
                    : r.path().contains("/Microsoft.Storage/") ? FakeArm.STORAGE_API : FakeArm.RESOURCES_API;
            assertEquals(expected, r.apiVersion(), r.toString());
        }
    }

    @Test
    void weakExistingAccountIsPatchedOnlyWhereItDiffers() {
        seedResourceGroup();
        ObjectNode a = Json.MAPPER.createObjectNode().put("id", ACCOUNT_ID).put("name", ACCOUNT)
                .put("type", "Microsoft.Storage/storageAccounts").put("location", "westeurope").put("kind", "StorageV2");
        a.set("sku", Json.MAPPER.createObjectNode().put("name", "Standard_LRS").put("tier", "Standard"));
        ObjectNode p = Json.MAPPER.createObjectNode().put("supportsHttpsTrafficOnly", true)
                .put("minimumTlsVersion", "TLS1_0").put("allowBlobPublicAccess", true).put("provisioningState", "Succeeded");
        p.set("primaryEndpoints", Json.MAPPER.createObjectNode().put("blob", "https://" + ACCOUNT + ".blob.core.windows.net/")
                .put("table", "https://" + ACCOUNT + ".table.core.windows.net/"));
        a.set("properties", p);
        arm.seed(a);

        BootstrapReport r = run(settings(), false);

        JsonNode patch = arm.body("PATCH", ACCOUNT_ID);
        assertEquals("TLS1_2", patch.path("properties").path("minimumTlsVersion").asText());
        assertFalse(patch.path("properties").path("allowBlobPublicAccess").asBoolean(true));
        assertFalse(patch.path("properties").path("allowSharedKeyAccess").asBoolean(true));
        assertFalse(patch.has("sku"), "sku already matches: " + patch);
        assertFalse(patch.path("properties").has("supportsHttpsTrafficOnly"), "https-only already set: " + patch);
        assertTrue(arm.writes().stream().noneMatch(w -> w.method().equals("PUT") && w.path().equalsIgnoreCase(ACCOUNT_ID)));
        BootstrapReport.Item changed = r.changed().stream().filter(i -> i.step().equals("storageAccount")).findFirst().orElseThrow();
        assertTrue(changed.detail().contains("minimumTlsVersion TLS1_0 -> TLS1_2"), changed.detail());
        assertEquals("resourceGroup", r.skipped().get(0).step());
    }

    @Test
    void existingSystemTopicIsFoundBySourceWhateverItsName() {
        run(settings(), true);
        // Replace bootstrap's topic with one named differently, the way the portal names them.
        String other = RG_ID + "/providers/Microsoft.EventGrid/systemTopics/portal-made-topic";
        ObjectNode t = arm.resource(TOPIC_ID).deepCopy();
        t.put("id", other).put("name", "portal-made-topic");
        arm.seed(t);
        arm.resource(TOPIC_ID).put("id", "/gone").with("properties").put("source", "/elsewhere");
        arm.clearRequests();

        BootstrapReport r = run(settings(), true);

        assertTrue(r.found().stream().anyMatch(i -> i.step().equals("systemTopic") && i.resource().equals(other)), r.found().toString());
        assertTrue(arm.writes().stream().noneMatch(w -> w.path().contains("/systemTopics/") && !w.path().contains("/eventSubscriptions/")),
                "no second topic for the same account: " + arm.writes());
        assertEquals("ckptvaultblobevents", arm.writes().stream().filter(w -> w.path().contains("/eventSubscriptions/"))
                .findFirst().orElseThrow().path().replaceAll(".*/", ""));
        assertTrue(arm.writes().stream().allMatch(w -> w.path().startsWith(other) || w.path().contains("roleAssignments")),
                arm.writes().toString());
    }

    @Test
    void driftedEventSubscriptionIsBroughtBack() {
        run(settings(), true);
        ((ObjectNode) arm.resource(SUBSCRIPTION_ID).path("properties").path("filter"))
                .put("subjectBeginsWith", "/blobServices/default/containers/other/");
        arm.clearRequests();

        BootstrapReport r = run(settings(), true);

        assertEquals(1, arm.writes().size(), arm.writes().toString());
        assertEquals("/blobServices/default/containers/checkpoints/",
                arm.body("PUT", SUBSCRIPTION_ID).path("properties").path("filter").path("subjectBeginsWith").asText());
        BootstrapReport.Item c = r.changed().get(0);
        assertEquals("eventSubscription", c.step());
        assertTrue(c.detail().contains("filter.subjectBeginsWith"), c.detail());
    }

    @Test
    void roleInheritedFromTheResourceGroupCountsAsFound() {
        seedResourceGroup();
        String name = "6f6b1f3e-0000-4000-8000-000000000001";
        ObjectNode ra = Json.MAPPER.createObjectNode()
                .put("id", RG_ID + "/providers/Microsoft.Authorization/roleAssignments/" + name).put("name", name)
                .put("type", "Microsoft.Authorization/roleAssignments");
        ra.set("properties", Json.MAPPER.createObjectNode()
                .put("roleDefinitionId", BuiltInRole.STORAGE_BLOB_DELEGATOR.definitionId(SUB))
                .put("principalId", APP_PRINCIPAL).put("principalType", "ServicePrincipal").put("scope", RG_ID));
        arm.seed(ra);

        BootstrapReport r = run(settings(), false);

        assertTrue(r.found().stream().anyMatch(i -> i.step().equals("appRole:Storage Blob Delegator on the account")),
                r.found().toString());
        assertEquals(4, arm.writes().stream().filter(w -> w.path().contains("roleAssignments")).count(),
                "three app roles + the topic's, not the inherited one: " + arm.writes());
        // Bootstrap removes nothing, but says where the broader grant is.
        BootstrapReport.Note note = r.notes().stream().filter(n -> n.step().equals("appRole:Storage Blob Delegator on the account"))
                .findFirst().orElseThrow(() -> new AssertionError(r.notes().toString()));
        assertTrue(note.note().contains(RG_ID) && note.note().contains("az role assignment delete"), note.note());
    }

    @Test
    void missingRbacPermissionNamesTheRoleNeeded() {
        arm.refuse("PUT", ".*/providers/Microsoft\\.Authorization/roleAssignments/.*", 403, "AuthorizationFailed",
                "The client 'ops@contoso.com' with object id '0000' does not have authorization to perform action "
                        + "'Microsoft.Authorization/roleAssignments/write' over scope '" + ACCOUNT_ID + "'.");
        ForbiddenException e = assertThrows(ForbiddenException.class, () -> run(settings(), true));
        assertTrue(e.getMessage().contains("Role Based Access Control Administrator"), e.getMessage());
        assertTrue(e.getMessage().startsWith("appRole:Storage Blob Data Contributor on container checkpoints"), e.getMessage());
        assertEquals("AuthorizationFailed", e.code());

        arm.clearFaults();
        arm.clearRequests();
        BootstrapReport resumed = run(settings(), true);
        assertTrue(steps(resumed.found()).containsAll(List.of("storageAccount", "container", "indexTable")),
                "a rerun resumes: what exists is found, not recreated: " + resumed.found());
    }

    @Test
    void missingStoragePermissionNamesTheRoleNeeded() {
        seedResourceGroup();
        arm.refuse("GET", ".*/providers/Microsoft\\.Storage/storageAccounts/[^/]+", 403, "AuthorizationFailed",
                "does not have authorization to perform action 'Microsoft.Storage/storageAccounts/read'");
        ForbiddenException e = assertThrows(ForbiddenException.class, () -> run(settings(), false));
        assertTrue(e.getMessage().contains("Storage Account Contributor"), e.getMessage());
        assertEquals("storageAccount", e.target());
    }

    @Test
    void takenAccountNameIsAConflictThatSaysSo() {
        seedResourceGroup();
        arm.refuse("PUT", ".*/providers/Microsoft\\.Storage/storageAccounts/[^/]+", 409, "StorageAccountAlreadyTaken",
                "The storage account named " + ACCOUNT + " is already taken.");
        ConflictException e = assertThrows(ConflictException.class, () -> run(settings(), false));
        assertEquals("StorageAccountAlreadyTaken", e.code());
        assertTrue(e.getMessage().contains("choose another name"), e.getMessage());
    }

    @Test
    void missingResourceGroupWithoutCreateIsExplained() {
        ConflictException e = assertThrows(ConflictException.class, () -> run(settings(), false));
        assertEquals("ResourceGroupNotFound", e.code());
        assertTrue(e.getMessage().contains("--create-resource-group"), e.getMessage());
    }

    @Test
    void withoutPrincipalOrFunctionAppThoseStepsAreSkippedWithReasons() {
        seedResourceGroup();
        Map<String, String> s = settings();
        s.remove("CKPT_BOOTSTRAP_PRINCIPAL_ID");
        s.remove("CKPT_BOOTSTRAP_FUNCTION_APP_ID");
        BootstrapReport r = run(s, false);
        Map<String, String> skipped = new HashMap<>();
        r.skipped().forEach(k -> skipped.put(k.step(), k.reason()));
        assertTrue(skipped.get("appRoles").contains("--principal-id"), skipped.toString());
        assertTrue(skipped.get("eventSubscription").contains("--function-app-id"), skipped.toString());
        assertTrue(arm.writes().stream().noneMatch(w -> w.path().contains("/eventSubscriptions/")));
    }

    @Test
    void newAccountWithoutLocationNamesTheMissingInput() {
        seedResourceGroup();
        Map<String, String> s = settings();
        s.remove("CKPT_BOOTSTRAP_LOCATION");
        ConflictException e = assertThrows(ConflictException.class, () -> run(s, false));
        assertEquals("--location", e.target());
        assertEquals(Optional.empty(), Optional.ofNullable(arm.resource(ACCOUNT_ID)));
    }

    @Test
    void accountWithoutVersioningGetsItTurnedOnAndKeepsItsOtherBlobServiceSettings() {
        ObjectNode props = Json.MAPPER.createObjectNode();
        props.putObject("deleteRetentionPolicy").put("enabled", true).put("days", 7);
        props.putObject("changeFeed").put("enabled", true).put("retentionInDays", 7);
        props.putObject("cors").putArray("corsRules");
        seedAccount(props);

        BootstrapReport r = run(settings(), false);

        JsonNode put = arm.body("PUT", BLOB_SERVICE_ID).path("properties");
        assertTrue(put.path("isVersioningEnabled").asBoolean(false), put.toString());
        assertTrue(put.path("changeFeed").path("enabled").asBoolean(false), "change feed left as it was: " + put);
        assertEquals(7, put.path("deleteRetentionPolicy").path("days").asInt());
        BootstrapReport.Item changed = r.changed().stream().filter(i -> i.step().equals("blobVersioning")).findFirst()
                .orElseThrow(() -> new AssertionError(r.changed().toString()));
        assertEquals("isVersioningEnabled null -> true", changed.detail());
        assertTrue(steps(r.found()).contains("blobSoftDelete"), r.found().toString());
        assertTrue(steps(r.changed()).stream().noneMatch(s -> s.equals("blobSoftDelete")), r.changed().toString());

        arm.clearRequests();
        BootstrapReport again = run(settings(), false);
        assertTrue(arm.writes().isEmpty(), "versioning on: the second run only reads, got " + arm.writes());
        assertTrue(steps(again.found()).containsAll(List.of("blobSoftDelete", "blobVersioning")), again.found().toString());
    }

    @Test
    void lifecycleRuleIsAddedBesideTheAccountsOtherRulesWithoutTouchingThem() {
        seedAccount(Json.MAPPER.createObjectNode().put("isVersioningEnabled", true));
        ObjectNode theirs = rule("logs-cleanup", "logs/", 90);
        seedPolicy(theirs);

        BootstrapReport r = run(settings(), false);

        JsonNode put = arm.body("PUT", POLICY_ID);
        assertEquals(2, put.path("properties").path("policy").path("rules").size(), put.toString());
        JsonNode other = ruleNamed(put, "logs-cleanup");
        assertEquals(List.of("logs/"), Json.MAPPER.convertValue(other.path("definition").path("filters").path("prefixMatch"), List.class));
        assertEquals(90, other.path("definition").path("actions").path("version").path("delete")
                .path("daysAfterCreationGreaterThan").asInt(), "the other rule is sent back as it was: " + other);
        assertEquals(7, ruleNamed(put, "ckptvault-previous-versions").path("definition").path("actions")
                .path("version").path("delete").path("daysAfterCreationGreaterThan").asInt());
        BootstrapReport.Item changed = r.changed().stream().filter(i -> i.step().equals("lifecyclePolicy")).findFirst()
                .orElseThrow(() -> new AssertionError(r.changed().toString()));
        assertTrue(changed.detail().contains("added to 1 existing rule"), changed.detail());
    }

    @Test
    void lifecycleRuleWithAnExtraActionIsBroughtBackToExactlyThePlan() {
        seedAccount(Json.MAPPER.createObjectNode().put("isVersioningEnabled", true));
        ObjectNode drifted = rule("ckptvault-previous-versions", "checkpoints/", 7);
        // A delete of current versions would remove committed checkpoints: never part of this rule.
        ((ObjectNode) drifted.path("definition").path("actions")).putObject("baseBlob").putObject("delete")
                .put("daysAfterModificationGreaterThan", 30);
        seedPolicy(drifted);

        BootstrapReport r = run(settings(), false);

        JsonNode actions = ruleNamed(arm.body("PUT", POLICY_ID), "ckptvault-previous-versions").path("definition").path("actions");
        assertFalse(actions.has("baseBlob"), actions.toString());
        assertEquals(7, actions.path("version").path("delete").path("daysAfterCreationGreaterThan").asInt());
        assertTrue(r.changed().stream().anyMatch(i -> i.step().equals("lifecyclePolicy") && i.detail().contains("brought back")),
                r.changed().toString());
    }

    @Test
    void lifecycleDaysOfAnExistingRuleAreKeptUnlessDaysAreGiven() {
        seedAccount(Json.MAPPER.createObjectNode().put("isVersioningEnabled", true));
        seedPolicy(rule("ckptvault-previous-versions", "checkpoints/", 30));

        BootstrapReport r = run(settings(), false);
        assertTrue(steps(r.found()).contains("lifecyclePolicy"), "30 days set by Bicep stay: " + r.found());
        assertTrue(arm.writes().stream().noneMatch(w -> w.path().contains("managementPolicies")), arm.writes().toString());

        BootstrapReport given = new ArmBootstrap(arm.connection(SUB)).run(plan(settings(), false).withPreviousVersionDays(14));
        assertEquals(14, ruleNamed(arm.body("PUT", POLICY_ID), "ckptvault-previous-versions").path("definition")
                .path("actions").path("version").path("delete").path("daysAfterCreationGreaterThan").asInt());
        assertTrue(steps(given.changed()).contains("lifecyclePolicy"), given.changed().toString());
    }

    @Test
    void missingPermissionForTheLifecyclePolicyNamesTheRoleNeeded() {
        arm.refuse("PUT", ".*/managementPolicies/default", 403, "AuthorizationFailed",
                "does not have authorization to perform action 'Microsoft.Storage/storageAccounts/managementPolicies/write'");
        ForbiddenException e = assertThrows(ForbiddenException.class, () -> run(settings(), true));
        assertEquals("lifecyclePolicy", e.target());
        assertTrue(e.getMessage().contains("Storage Account Contributor"), e.getMessage());
    }
}
