package dev.ckptvault.provisioning;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.ckptvault.testing.SelfSignedTls;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import reactor.core.publisher.Mono;

/**
 * A local Azure Resource Manager speaking the wire format of the ARM REST reference examples for
 * the resource types bootstrap touches: resource groups, storage accounts (202 + Location
 * polling), blob service properties (soft delete, versioning), containers, tables, the account's
 * lifecycle management policy, role assignments, and Event Grid system
 * topics and their event subscriptions (201 + Azure-AsyncOperation polling). It serves HTTPS with a
 * certificate made at test time ({@link SelfSignedTls}), because azure-core sends bearer tokens over HTTPS only.
 * Every request is recorded; a fault can be set for any method + path.
 */
final class FakeArm implements AutoCloseable {
    static final String STORAGE_API = "2025-06-01";
    static final String RESOURCES_API = "2025-04-01";
    static final String AUTHORIZATION_API = "2022-04-01";
    static final String EVENTGRID_API = "2022-06-15";
    static final String TOKEN = "fake-arm-token";
    static final String TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /** One request as received; {@code body} is null for none. */
    record Request(String method, String path, String apiVersion, JsonNode body) {
        boolean isWrite() {
            return !method.equals("GET");
        }

        @Override
        public String toString() {
            return method + " " + path + (apiVersion == null ? "" : "?api-version=" + apiVersion);
        }
    }

    private record Fault(String method, Pattern path, int status, String code, String message) {
    }

    private static final Pattern RG = p("/subscriptions/([^/]+)/resourcegroups/([^/]+)");
    private static final Pattern ACCOUNT = p("(/subscriptions/[^/]+/resourcegroups/[^/]+)/providers/microsoft\\.storage/storageaccounts/([^/]+)");
    private static final Pattern BLOB_SERVICE = p("(" + ACCOUNT.pattern() + ")/blobservices/default");
    private static final Pattern CONTAINER = p("(" + ACCOUNT.pattern() + ")/blobservices/default/containers/([^/]+)");
    private static final Pattern TABLE = p("(" + ACCOUNT.pattern() + ")/tableservices/default/tables/([^/]+)");
    private static final Pattern MANAGEMENT_POLICY = p("(" + ACCOUNT.pattern() + ")/managementpolicies/([^/]+)");
    private static final Pattern ROLE_LIST = p("(.+)/providers/microsoft\\.authorization/roleassignments");
    private static final Pattern ROLE = p("(.+)/providers/microsoft\\.authorization/roleassignments/([^/]+)");
    private static final Pattern TOPIC_LIST = p("(/subscriptions/[^/]+/resourcegroups/[^/]+)/providers/microsoft\\.eventgrid/systemtopics");
    private static final Pattern TOPIC = p(TOPIC_LIST.pattern() + "/([^/]+)");
    private static final Pattern EVENT_SUB = p("(" + TOPIC.pattern() + ")/eventsubscriptions/([^/]+)");
    private static final Pattern STORAGE_OP = p("/subscriptions/[^/]+/providers/microsoft\\.storage/locations/[^/]+/asyncoperations/([^/]+)");
    private static final Pattern EVENTGRID_OP = p("/subscriptions/[^/]+/providers/microsoft\\.eventgrid/locations/[^/]+/operationsstatus/([^/]+)");
    private static final Pattern GUID = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            Pattern.CASE_INSENSITIVE);

    private static Pattern p(String regex) {
        return Pattern.compile(regex, Pattern.CASE_INSENSITIVE);
    }

    private final HttpsServer server;
    private final SelfSignedTls tls;
    /** Resources by lower-case id, in ARM's GET shape. */
    private final Map<String, ObjectNode> resources = new ConcurrentHashMap<>();
    /** Long-running operations: polls still answering "in progress", and the resource id they finish. */
    private final Map<String, int[]> operations = new ConcurrentHashMap<>();
    private final Map<String, String> operationTargets = new ConcurrentHashMap<>();
    private final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private final List<Fault> faults = Collections.synchronizedList(new ArrayList<>());
    /** How many polls a long-running operation answers "in progress" before it completes. */
    volatile int pollsBeforeDone = 1;
    /** Which bearer tokens ARM accepts: the fixed test token, unless a test signs in for real. */
    volatile java.util.function.Predicate<String> acceptsToken = TOKEN::equals;

    private FakeArm(HttpsServer server, SelfSignedTls tls) {
        this.server = server;
        this.tls = tls;
    }

    private static SelfSignedTls shared;

    /** One self-signed certificate per test JVM: making one takes a moment, the servers are many. */
    private static synchronized SelfSignedTls tls() throws Exception {
        if (shared == null) {
            shared = SelfSignedTls.create(Files.createTempDirectory("fake-arm"));
        }
        return shared;
    }

    static FakeArm start() throws Exception {
        SelfSignedTls t = tls();
        HttpsServer server = HttpsServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(t.serverContext()));
        FakeArm arm = new FakeArm(server, t);
        server.createContext("/", arm::handle);
        server.start();
        return arm;
    }

    String endpoint() {
        return "https://127.0.0.1:" + server.getAddress().getPort() + "/";
    }

    /** The certificate this fake serves, for a process that must trust it. */
    java.nio.file.Path certificatePem() {
        return tls.certPem();
    }

    /** An SDK HttpClient that trusts this fake's certificate (and nothing else changes). */
    HttpClient httpClient() {
        return tls.sdkHttpClient();
    }

    static TokenCredential credential() {
        return request -> Mono.just(new AccessToken(TOKEN, OffsetDateTime.now().plusHours(1)));
    }

    ArmConnection connection(String subscriptionId) {
        return ArmConnection.at(credential(), subscriptionId, endpoint(), httpClient());
    }

    List<Request> requests() {
        synchronized (requests) {
            return List.copyOf(requests);
        }
    }

    List<Request> writes() {
        return requests().stream().filter(Request::isWrite).toList();
    }

    /** The body of the one write of {@code method} to {@code path} (case-insensitive). */
    JsonNode body(String method, String path) {
        List<Request> hits = writes().stream()
                .filter(r -> r.method().equals(method) && r.path().equalsIgnoreCase(path)).toList();
        if (hits.size() != 1) {
            throw new AssertionError("expected one " + method + " " + path + ", got " + hits.size() + " in " + writes());
        }
        return hits.get(0).body();
    }

    void clearRequests() {
        requests.clear();
    }

    /** Answers {@code status} with an ARM error body to every {@code method} on a path matching {@code pathRegex}. */
    void refuse(String method, String pathRegex, int status, String code, String message) {
        faults.add(new Fault(method, p(pathRegex), status, code, message));
    }

    void clearFaults() {
        faults.clear();
    }

    /** Seeds an existing resource, in ARM's GET shape. */
    void seed(ObjectNode resource) {
        resources.put(resource.path("id").asText().toLowerCase(Locale.ROOT), resource);
    }

    ObjectNode resource(String id) {
        return resources.get(id.toLowerCase(Locale.ROOT));
    }

    @Override
    public void close() {
        server.stop(0);
    }

    // ---------------------------------------------------------------- dispatch

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String method = ex.getRequestMethod();
            String path = URLDecoder.decode(ex.getRequestURI().getRawPath(), StandardCharsets.UTF_8);
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            byte[] raw = ex.getRequestBody().readAllBytes();
            JsonNode body = raw.length == 0 ? null : Json.MAPPER.readTree(raw);
            requests.add(new Request(method, path, query.get("api-version"), body));
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth == null || !auth.startsWith("Bearer ") || !acceptsToken.test(auth.substring(7))) {
                send(ex, 401, error("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."));
                return;
            }
            synchronized (faults) {
                for (Fault f : faults) {
                    if (f.method().equals(method) && f.path().matcher(path).matches()) {
                        send(ex, f.status(), error(f.code(), f.message()));
                        return;
                    }
                }
            }
            Answer a;
            synchronized (this) {
                a = route(method, path, query, body);
            }
            for (Map.Entry<String, String> h : a.headers().entrySet()) {
                ex.getResponseHeaders().set(h.getKey(), h.getValue());
            }
            send(ex, a.status(), a.body());
        } catch (BadRequest e) {
            send(ex, 400, error(e.code, e.getMessage()));
        } catch (RuntimeException e) {
            send(ex, 500, error("InternalServerError", "fake ARM failed: " + e));
        }
    }

    private record Answer(int status, JsonNode body, Map<String, String> headers) {
        static Answer of(int status, JsonNode body) {
            return new Answer(status, body, Map.of());
        }
    }

    private Answer route(String method, String path, Map<String, String> q, JsonNode body) {
        Matcher m;
        if ((m = STORAGE_OP.matcher(path)).matches()) {
            return poll(m.group(1), false);
        }
        if ((m = EVENTGRID_OP.matcher(path)).matches()) {
            return poll(m.group(1), true);
        }
        if ((m = RG.matcher(path)).matches()) {
            requireApi(q, RESOURCES_API);
            return resourceGroup(method, path, m.group(2), body);
        }
        if ((m = CONTAINER.matcher(path)).matches()) {
            requireApi(q, STORAGE_API);
            return container(method, path, m.group(1), m.group(4), body);
        }
        if ((m = BLOB_SERVICE.matcher(path)).matches()) {
            requireApi(q, STORAGE_API);
            return blobService(method, path, m.group(1), body);
        }
        if ((m = TABLE.matcher(path)).matches()) {
            requireApi(q, STORAGE_API);
            return table(method, path, m.group(1), m.group(4), body);
        }
        if ((m = MANAGEMENT_POLICY.matcher(path)).matches()) {
            requireApi(q, STORAGE_API);
            return managementPolicy(method, path, m.group(1), m.group(4), body);
        }
        if ((m = ACCOUNT.matcher(path)).matches()) {
            requireApi(q, STORAGE_API);
            return account(method, path, m.group(1), m.group(2), body);
        }
        if ((m = ROLE.matcher(path)).matches()) {
            requireApi(q, AUTHORIZATION_API);
            return roleAssignment(method, path, m.group(1), m.group(2), body);
        }
        if ((m = ROLE_LIST.matcher(path)).matches()) {
            requireApi(q, AUTHORIZATION_API);
            return roleAssignments(m.group(1), q.get("$filter"));
        }
        if ((m = EVENT_SUB.matcher(path)).matches()) {
            requireApi(q, EVENTGRID_API);
            return eventSubscription(method, path, m.group(1), body);
        }
        if ((m = TOPIC.matcher(path)).matches()) {
            requireApi(q, EVENTGRID_API);
            return topic(method, path, m.group(1), body);
        }
        if ((m = TOPIC_LIST.matcher(path)).matches() && method.equals("GET")) {
            requireApi(q, EVENTGRID_API);
            ArrayNode value = Json.MAPPER.createArrayNode();
            String prefix = (m.group(1) + "/providers/microsoft.eventgrid/systemtopics/").toLowerCase(Locale.ROOT);
            resources.forEach((id, r) -> {
                if (id.startsWith(prefix) && !id.substring(prefix.length()).contains("/")) {
                    value.add(r);
                }
            });
            return Answer.of(200, Json.MAPPER.createObjectNode().set("value", value));
        }
        return Answer.of(404, error("InvalidResourceType", "The fake has no route for " + method + " " + path));
    }

    private static void requireApi(Map<String, String> q, String expected) {
        if (!expected.equals(q.get("api-version"))) {
            throw new BadRequest("InvalidApiVersionParameter", "The api-version '" + q.get("api-version")
                    + "' is invalid here; the fake serves " + expected);
        }
    }

    // ---------------------------------------------------------------- resource types

    private Answer resourceGroup(String method, String path, String name, JsonNode body) {
        ObjectNode existing = resource(path);
        if (method.equals("GET")) {
            return existing == null ? notFound("ResourceGroupNotFound", "Resource group '" + name + "' could not be found.")
                    : Answer.of(200, existing);
        }
        if (method.equals("PUT")) {
            String location = required(body, "location");
            ObjectNode rg = obj().put("id", path).put("name", name).put("type", "Microsoft.Resources/resourceGroups")
                    .put("location", location);
            rg.set("properties", obj().put("provisioningState", "Succeeded"));
            seed(rg);
            return Answer.of(existing == null ? 201 : 200, rg);
        }
        return methodNotAllowed(method, path);
    }

    private Answer account(String method, String path, String rgId, String name, JsonNode body) {
        ObjectNode existing = resource(path);
        if (method.equals("GET")) {
            return existing == null ? notFound("ResourceNotFound", "The Resource 'Microsoft.Storage/storageAccounts/"
                    + name + "' under resource group was not found.") : Answer.of(200, existing);
        }
        if (resource(rgId) == null) {
            return notFound("ResourceGroupNotFound", "Resource group '" + rgId.substring(rgId.lastIndexOf('/') + 1)
                    + "' could not be found.");
        }
        if (method.equals("PUT")) {
            String location = required(body, "location");
            String sku = required(body, "sku.name");
            String kind = required(body, "kind");
            ObjectNode a = obj().put("id", path).put("name", name).put("type", "Microsoft.Storage/storageAccounts")
                    .put("location", location).put("kind", kind);
            a.set("sku", obj().put("name", sku).put("tier", sku.startsWith("Premium") ? "Premium" : "Standard"));
            ObjectNode props = body.path("properties").isObject() ? ((ObjectNode) body.get("properties")).deepCopy() : obj();
            props.put("provisioningState", "Succeeded").put("creationTime", "2026-11-25T10:00:00.0000000Z")
                    .put("primaryLocation", location).put("statusOfPrimary", "available");
            ObjectNode endpoints = obj();
            for (String s : List.of("blob", "queue", "table", "file", "web", "dfs")) {
                endpoints.put(s, "https://" + name + "." + s + ".core.windows.net/");
            }
            props.set("primaryEndpoints", endpoints);
            a.set("properties", props);
            String op = UUID.randomUUID().toString();
            operations.put(op, new int[] {pollsBeforeDone});
            operationTargets.put(op, path);
            pending.put(path.toLowerCase(Locale.ROOT), a);
            return new Answer(202, null, Map.of("Location", endpoint() + "subscriptions/" + subscriptionOf(path)
                    + "/providers/Microsoft.Storage/locations/" + location + "/asyncoperations/" + op
                    + "?monitor=true&api-version=" + STORAGE_API, "Retry-After", "1"));
        }
        if (method.equals("PATCH")) {
            if (existing == null) {
                return notFound("ResourceNotFound", "The Resource 'Microsoft.Storage/storageAccounts/" + name + "' was not found.");
            }
            if (body.has("sku")) {
                existing.set("sku", obj().put("name", required(body, "sku.name")).put("tier", "Standard"));
            }
            if (body.has("kind")) {
                existing.put("kind", body.get("kind").asText());
            }
            body.path("properties").fields().forEachRemaining(f ->
                    ((ObjectNode) existing.get("properties")).set(f.getKey(), f.getValue()));
            return Answer.of(200, existing);
        }
        return methodNotAllowed(method, path);
    }

    /** Resources whose create is still running, by lower-case id; visible to GET once done. */
    private final Map<String, ObjectNode> pending = new ConcurrentHashMap<>();

    private Answer poll(String op, boolean eventGrid) {
        int[] left = operations.get(op);
        if (left == null) {
            return notFound("OperationNotFound", "operation " + op + " is unknown");
        }
        String target = operationTargets.get(op);
        if (left[0]-- > 0) {
            if (eventGrid) {
                // ARM's async operation guidance: an in-progress status carries Retry-After.
                return new Answer(200, obj().put("id", op).put("name", op).put("status", "InProgress"),
                        Map.of("Retry-After", "1"));
            }
            return new Answer(202, null, Map.of("Location", endpoint() + "subscriptions/x/providers/Microsoft.Storage/locations/l/asyncoperations/" + op
                    + "?monitor=true&api-version=" + STORAGE_API, "Retry-After", "1"));
        }
        ObjectNode done = pending.remove(target.toLowerCase(Locale.ROOT));
        if (done != null) {
            if (done.path("properties").isObject()) {
                ((ObjectNode) done.get("properties")).put("provisioningState", "Succeeded");
            }
            seed(done);
        }
        if (eventGrid) {
            return Answer.of(200, obj().put("id", op).put("name", op).put("status", "Succeeded"));
        }
        return Answer.of(200, resource(target));
    }

    private Answer blobService(String method, String path, String accountId, JsonNode body) {
        ObjectNode account = resource(accountId);
        if (account == null) {
            return notFound("ParentResourceNotFound", "Storage account " + accountId + " was not found.");
        }
        ObjectNode svc = resource(path);
        if (svc == null) {
            svc = obj().put("id", accountId + "/blobServices/default").put("name", "default")
                    .put("type", "Microsoft.Storage/storageAccounts/blobServices");
            ObjectNode props = obj();
            props.set("deleteRetentionPolicy", obj().put("allowPermanentDelete", false).put("enabled", false));
            props.set("cors", obj().set("corsRules", Json.MAPPER.createArrayNode()));
            svc.set("properties", props);
            svc.set("sku", account.get("sku").deepCopy());
        }
        if (method.equals("GET")) {
            return Answer.of(200, svc);
        }
        if (method.equals("PUT")) {
            JsonNode versioning = body.path("properties").get("isVersioningEnabled");
            if (versioning != null && !versioning.isBoolean()) {
                throw new BadRequest("InvalidRequestContent", "isVersioningEnabled must be a boolean.");
            }
            JsonNode drp = body.path("properties").path("deleteRetentionPolicy");
            if (drp.path("enabled").asBoolean(false)) {
                int days = drp.path("days").asInt(0);
                if (days < 1 || days > 365) {
                    throw new BadRequest("InvalidValuesForRequestParameters",
                            "Values for request parameters are invalid: deleteRetentionPolicy.days.");
                }
            }
            ObjectNode target = svc;
            body.path("properties").fields().forEachRemaining(f -> ((ObjectNode) target.get("properties"))
                    .set(f.getKey(), f.getValue()));
            seed(svc);
            return Answer.of(200, svc);
        }
        return methodNotAllowed(method, path);
    }

    private Answer container(String method, String path, String accountId, String name, JsonNode body) {
        if (resource(accountId) == null) {
            return notFound("ParentResourceNotFound", "Storage account " + accountId + " was not found.");
        }
        ObjectNode existing = resource(path);
        if (method.equals("GET")) {
            return existing == null ? notFound("ContainerNotFound", "The specified container does not exist.")
                    : Answer.of(200, existing);
        }
        if (method.equals("PUT") || method.equals("PATCH")) {
            if (method.equals("PATCH") && existing == null) {
                return notFound("ContainerNotFound", "The specified container does not exist.");
            }
            ObjectNode c = existing != null ? existing : obj().put("id", path).put("name", name)
                    .put("type", "Microsoft.Storage/storageAccounts/blobServices/containers")
                    .put("etag", "\"0x8D589847D51C7DE\"");
            if (existing == null) {
                c.set("properties", obj().put("publicAccess", "None").put("leaseStatus", "Unlocked")
                        .put("leaseState", "Available").put("hasImmutabilityPolicy", false).put("hasLegalHold", false));
            }
            if (body != null) {
                body.path("properties").fields().forEachRemaining(f -> ((ObjectNode) c.get("properties"))
                        .set(f.getKey(), f.getValue()));
            }
            seed(c);
            return Answer.of(existing == null ? 201 : 200, c);
        }
        return methodNotAllowed(method, path);
    }

    /**
     * ManagementPolicies_Get / _CreateOrUpdate: one policy per account, named default, written
     * whole. The 200 body has the shape of the StorageAccountSetManagementPolicies example
     * (name DefaultManagementPolicy, properties.lastModifiedTime and properties.policy). The
     * reference gives no body for a missing policy; bootstrap treats any 404 as "none".
     */
    private Answer managementPolicy(String method, String path, String accountId, String name, JsonNode body) {
        if (resource(accountId) == null) {
            return notFound("ParentResourceNotFound", "Storage account " + accountId + " was not found.");
        }
        if (!name.equals("default")) {
            throw new BadRequest("InvalidManagementPolicyName", "The management policy name must be 'default'.");
        }
        ObjectNode existing = resource(path);
        if (method.equals("GET")) {
            return existing == null ? notFound("ResourceNotFound", "No management policy is set on " + accountId + ".")
                    : Answer.of(200, existing);
        }
        if (!method.equals("PUT")) {
            return methodNotAllowed(method, path);
        }
        JsonNode rules = body.path("properties").path("policy").get("rules");
        if (rules == null || !rules.isArray()) {
            throw new BadRequest("InvalidRequestContent", "The request content was invalid: 'properties.policy.rules' is required.");
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (JsonNode rule : rules) {
            String ruleName = required(rule, "name");
            if (!names.add(ruleName)) {
                throw new BadRequest("InvalidRequestContent", "Rule name " + ruleName + " is not unique within the policy.");
            }
            if (!"Lifecycle".equals(required(rule, "type"))) {
                throw new BadRequest("InvalidRequestContent", "The valid rule type is Lifecycle.");
            }
            JsonNode definition = rule.get("definition");
            if (definition == null || !definition.path("actions").isObject()) {
                throw new BadRequest("InvalidRequestContent", "Rule " + ruleName + ": 'definition.actions' is required.");
            }
            if (definition.has("filters") && !definition.path("filters").path("blobTypes").isArray()) {
                throw new BadRequest("InvalidRequestContent", "Rule " + ruleName + ": 'definition.filters.blobTypes' is required.");
            }
            for (String target : List.of("snapshot", "version")) {
                definition.path("actions").path(target).fields().forEachRemaining(action -> {
                    JsonNode days = action.getValue().get("daysAfterCreationGreaterThan");
                    // DateAfterCreation: required, a whole number of days, at least 0.
                    if (days == null || !days.isNumber() || days.asDouble() < 0 || days.asDouble() != Math.rint(days.asDouble())) {
                        throw new BadRequest("InvalidRequestContent", "Rule " + ruleName + ": actions." + target + "."
                                + action.getKey() + ".daysAfterCreationGreaterThan must be a whole number of days.");
                    }
                });
            }
        }
        ObjectNode policy = obj().put("id", path).put("name", "DefaultManagementPolicy")
                .put("type", "Microsoft.Storage/storageAccounts/managementPolicies");
        ObjectNode props = obj().put("lastModifiedTime", "2026-11-25T10:00:00.0000000Z");
        props.set("policy", body.path("properties").get("policy").deepCopy());
        policy.set("properties", props);
        seed(policy);
        return Answer.of(200, policy);
    }

    private Answer table(String method, String path, String accountId, String name, JsonNode body) {
        if (resource(accountId) == null) {
            return notFound("ParentResourceNotFound", "Storage account " + accountId + " was not found.");
        }
        ObjectNode existing = resource(path);
        if (method.equals("GET")) {
            return existing == null ? notFound("TableNotFound", "The table specified does not exist.")
                    : Answer.of(200, existing);
        }
        if (method.equals("PUT")) {
            ObjectNode t = obj().put("id", path).put("name", name)
                    .put("type", "Microsoft.Storage/storageAccounts/tableServices/tables");
            t.set("properties", obj().put("tableName", name));
            seed(t);
            return Answer.of(200, t);
        }
        return methodNotAllowed(method, path);
    }

    private Answer roleAssignments(String scope, String filter) {
        Matcher f = filter == null ? null : Pattern.compile("principalId eq '([^']+)'").matcher(filter);
        String principal = f != null && f.matches() ? f.group(1) : null;
        String s = scope.toLowerCase(Locale.ROOT);
        ArrayNode value = Json.MAPPER.createArrayNode();
        resources.forEach((id, r) -> {
            if (!id.contains("/providers/microsoft.authorization/roleassignments/")) {
                return;
            }
            String at = r.path("properties").path("scope").asText().toLowerCase(Locale.ROOT);
            // ARM's principalId filter returns assignments at, above and below the scope.
            boolean related = s.equals(at) || s.startsWith(at + "/") || at.startsWith(s + "/");
            if (related && (principal == null || principal.equalsIgnoreCase(r.path("properties").path("principalId").asText()))) {
                value.add(r);
            }
        });
        return Answer.of(200, obj().set("value", value));
    }

    private Answer roleAssignment(String method, String path, String scope, String name, JsonNode body) {
        if (!method.equals("PUT")) {
            ObjectNode existing = resource(path);
            return existing == null ? notFound("RoleAssignmentNotFound", "The role assignment '" + name + "' is not found.")
                    : Answer.of(200, existing);
        }
        if (!GUID.matcher(name).matches()) {
            throw new BadRequest("InvalidRoleAssignmentId", "The role assignment ID '" + name + "' is not valid. The role assignment ID must be a GUID.");
        }
        String roleDef = required(body, "properties.roleDefinitionId");
        String principal = required(body, "properties.principalId");
        if (!roleDef.matches("(?i)/subscriptions/[^/]+/providers/Microsoft\\.Authorization/roleDefinitions/[0-9a-f-]{36}")) {
            throw new BadRequest("InvalidRoleDefinitionId", "The role definition ID '" + roleDef + "' is not valid.");
        }
        if (!GUID.matcher(principal).matches()) {
            throw new BadRequest("InvalidPrincipalId", "A valid principal ID must be provided for role assignment.");
        }
        for (ObjectNode r : resources.values()) {
            JsonNode p = r.path("properties");
            if (r.path("type").asText().equals("Microsoft.Authorization/roleAssignments")
                    && p.path("scope").asText().equalsIgnoreCase(scope)
                    && p.path("principalId").asText().equalsIgnoreCase(principal)
                    && p.path("roleDefinitionId").asText().equalsIgnoreCase(roleDef)
                    && !r.path("name").asText().equalsIgnoreCase(name)) {
                return Answer.of(409, error("RoleAssignmentExists", "The role assignment already exists."));
            }
        }
        ObjectNode a = obj().put("id", path).put("name", name).put("type", "Microsoft.Authorization/roleAssignments");
        ObjectNode props = obj().put("roleDefinitionId", roleDef).put("principalId", principal)
                .put("principalType", body.path("properties").path("principalType").asText("User"))
                .put("scope", scope).put("createdOn", "2026-11-25T10:00:00.0000000Z")
                .put("updatedOn", "2026-11-25T10:00:00.0000000Z").put("createdBy", "fake").put("updatedBy", "fake");
        a.set("properties", props);
        seed(a);
        return Answer.of(201, a);
    }

    private Answer topic(String method, String path, String rgId, JsonNode body) {
        ObjectNode existing = resource(path);
        if (pending.containsKey(path.toLowerCase(Locale.ROOT)) && method.equals("GET")) {
            return Answer.of(200, pending.get(path.toLowerCase(Locale.ROOT)));
        }
        if (method.equals("GET")) {
            return existing == null ? notFound("ResourceNotFound", "The Resource 'Microsoft.EventGrid/systemTopics/"
                    + path.substring(path.lastIndexOf('/') + 1) + "' was not found.") : Answer.of(200, existing);
        }
        if (!method.equals("PUT")) {
            return methodNotAllowed(method, path);
        }
        String location = required(body, "location");
        String source = required(body, "properties.source");
        String topicType = required(body, "properties.topicType");
        if (resource(source) == null) {
            throw new BadRequest("InvalidRequest", "The source resource '" + source + "' does not exist.");
        }
        for (ObjectNode r : resources.values()) {
            if (r.path("type").asText().equals("Microsoft.EventGrid/systemTopics")
                    && r.path("properties").path("source").asText().equalsIgnoreCase(source)
                    && !r.path("id").asText().equalsIgnoreCase(path)) {
                throw new BadRequest("InvalidRequest", "Only one system topic is allowed per source. Source '" + source
                        + "' already has system topic '" + r.path("name").asText() + "'.");
            }
        }
        ObjectNode t = obj().put("id", path).put("name", path.substring(path.lastIndexOf('/') + 1))
                .put("type", "Microsoft.EventGrid/systemTopics").put("location", location);
        t.putNull("tags");
        // ARM reports source and topic type in lower case (SystemTopics_Get example).
        t.set("properties", obj().put("provisioningState", "Creating").put("source", source.toLowerCase(Locale.ROOT))
                .put("topicType", topicType.toLowerCase(Locale.ROOT)).put("metricResourceId", UUID.randomUUID().toString()));
        String idType = body.path("identity").path("type").asText("None");
        ObjectNode identity = obj().put("type", idType);
        if (idType.contains("SystemAssigned")) {
            JsonNode prior = existing == null ? null : existing.path("identity").get("principalId");
            identity.put("principalId", prior != null ? prior.asText() : UUID.randomUUID().toString()).put("tenantId", TENANT);
        }
        if (body.path("identity").has("userAssignedIdentities")) {
            identity.set("userAssignedIdentities", body.path("identity").get("userAssignedIdentities"));
        }
        t.set("identity", identity);
        return longRunning(path, location, t, existing == null ? 201 : 200);
    }

    private Answer eventSubscription(String method, String path, String topicId, JsonNode body) {
        ObjectNode topic = resource(topicId);
        if (method.equals("GET")) {
            if (pending.containsKey(path.toLowerCase(Locale.ROOT))) {
                return Answer.of(200, pending.get(path.toLowerCase(Locale.ROOT)));
            }
            ObjectNode existing = resource(path);
            return existing == null ? notFound("ResourceNotFound", "The Resource 'Microsoft.EventGrid/systemTopics/eventSubscriptions/"
                    + path.substring(path.lastIndexOf('/') + 1) + "' was not found.") : Answer.of(200, existing);
        }
        if (!method.equals("PUT")) {
            return methodNotAllowed(method, path);
        }
        if (topic == null) {
            return notFound("ResourceNotFound", "The system topic " + topicId + " was not found.");
        }
        JsonNode props = body.path("properties");
        String endpointType = required(body, "properties.destination.endpointType");
        if (endpointType.equals("AzureFunction")) {
            String fn = required(body, "properties.destination.properties.resourceId");
            if (!fn.matches("(?i)/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Web/sites/[^/]+/functions/[^/]+")) {
                throw new BadRequest("InvalidRequest", "Invalid Azure Function resource id: " + fn);
            }
        }
        if (props.has("deadLetterWithResourceIdentity")) {
            String wantedType = props.path("deadLetterWithResourceIdentity").path("identity").path("type").asText();
            if (!topic.path("identity").path("type").asText().contains(wantedType)) {
                throw new BadRequest("InvalidRequest", "The identity type " + wantedType
                        + " is not enabled on the system topic " + topic.path("name").asText() + ".");
            }
            String dl = required(body, "properties.deadLetterWithResourceIdentity.deadLetterDestination.properties.resourceId");
            if (resource(dl) == null) {
                throw new BadRequest("InvalidRequest", "The dead letter destination '" + dl + "' does not exist.");
            }
        }
        ObjectNode s = obj().put("id", path).put("name", path.substring(path.lastIndexOf('/') + 1))
                .put("type", "Microsoft.EventGrid/systemTopics/eventSubscriptions");
        ObjectNode p = ((ObjectNode) props).deepCopy();
        p.put("provisioningState", "Creating").put("topic", topicId);
        p.putNull("labels");
        if (!p.has("retryPolicy")) {
            p.set("retryPolicy", obj().put("maxDeliveryAttempts", 30).put("eventTimeToLiveInMinutes", 1440));
        }
        if (!p.has("eventDeliverySchema")) {
            p.put("eventDeliverySchema", "EventGridSchema");
        }
        s.set("properties", p);
        return longRunning(path, topic.path("location").asText(), s, resource(path) == null ? 201 : 200);
    }

    /** Event Grid's long-running shape: 201/200 with the resource so far, then Azure-AsyncOperation polling. */
    private Answer longRunning(String path, String location, ObjectNode resource, int status) {
        String op = UUID.randomUUID().toString().toUpperCase(Locale.ROOT);
        operations.put(op, new int[] {pollsBeforeDone});
        operationTargets.put(op, path);
        pending.put(path.toLowerCase(Locale.ROOT), resource);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("Azure-AsyncOperation", endpoint() + "subscriptions/" + subscriptionOf(path)
                + "/providers/Microsoft.EventGrid/locations/" + location + "/operationsStatus/" + op
                + "?api-version=" + EVENTGRID_API);
        headers.put("Retry-After", "1");
        return new Answer(status, resource, headers);
    }

    // ---------------------------------------------------------------- helpers

    private static String subscriptionOf(String path) {
        return path.split("/")[2];
    }

    private static String required(JsonNode body, String dotted) {
        JsonNode n = body;
        for (String part : dotted.split("\\.")) {
            n = n == null ? null : n.get(part);
        }
        if (n == null || n.isNull() || n.asText().isBlank()) {
            throw new BadRequest("InvalidRequestContent", "The request content was invalid: '" + dotted + "' is required.");
        }
        return n.asText();
    }

    private static ObjectNode obj() {
        return Json.MAPPER.createObjectNode();
    }

    static ObjectNode error(String code, String message) {
        ObjectNode e = obj();
        e.set("error", obj().put("code", code).put("message", message));
        return e;
    }

    private static Answer notFound(String code, String message) {
        return Answer.of(404, error(code, message));
    }

    private static Answer methodNotAllowed(String method, String path) {
        return Answer.of(405, error("MethodNotAllowed", method + " is not supported on " + path));
    }

    private static final class BadRequest extends RuntimeException {
        final String code;

        BadRequest(String code, String message) {
            super(message);
            this.code = code;
        }
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null) {
            return q;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            q.put(k, v);
        }
        return q;
    }

    private static void send(HttpExchange ex, int status, JsonNode body) throws IOException {
        byte[] bytes = body == null ? new byte[0] : Json.MAPPER.writeValueAsBytes(body);
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.getResponseHeaders().set("x-ms-request-id", UUID.randomUUID().toString());
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            ex.getResponseBody().write(bytes);
        }
    }
}
