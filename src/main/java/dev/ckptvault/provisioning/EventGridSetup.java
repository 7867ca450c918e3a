package dev.ckptvault.provisioning;

import com.azure.core.util.Context;
import com.azure.resourcemanager.resources.fluent.models.GenericResourceInner;
import com.azure.resourcemanager.resources.models.Identity;
import com.azure.resourcemanager.resources.models.ResourceIdentityType;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import dev.ckptvault.error.ConflictException;

/**
 * The account's Event Grid system topic and the subscription delivering blob events to the
 * function, managed as generic ARM resources (the Event Grid management SDK is not available).
 */
final class EventGridSetup {
    static final String API_VERSION = "2022-06-15";
    static final String TOPIC_ROLE = "EventGrid Contributor on the resource group";
    static final String SUBSCRIPTION_ROLE =
            "EventGrid EventSubscription Contributor (or EventGrid Contributor) on the resource group, and read access to the function app";
    static final List<String> EVENT_TYPES = List.of("Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted");
    static final int MAX_DELIVERY_ATTEMPTS = 30;
    static final int EVENT_TTL_MINUTES = 1440;

    /** The system topic bootstrap uses, and the identity Event Grid dead-letters with. */
    record Topic(String id, String principalId) {
    }

    private final ArmConnection arm;

    EventGridSetup(ArmConnection arm) {
        this.arm = arm;
    }

    /**
     * Finds the account's system topic by its source (Azure allows one per account, whatever its
     * name) in the account's resource group, or creates one; either way with a system-assigned
     * identity for dead-lettering.
     */
    Topic systemTopic(BootstrapPlan plan, String accountLocation, BootstrapReport report) {
        Optional<JsonNode> found = ArmErrors.during("systemTopic", TOPIC_ROLE, () -> findBySource(plan));
        if (found.isEmpty()) {
            String id = plan.resourceGroupId() + "/providers/Microsoft.EventGrid/systemTopics/" + plan.systemTopicName();
            Map<String, Object> props = new LinkedHashMap<>();
            props.put("source", plan.accountId());
            props.put("topicType", "Microsoft.Storage.StorageAccounts");
            GenericResourceInner topic = new GenericResourceInner()
                    .withLocation(accountLocation)
                    .withIdentity(new Identity().withType(ResourceIdentityType.SYSTEM_ASSIGNED))
                    .withProperties(props);
            GenericResourceInner created = ArmErrors.during("systemTopic", TOPIC_ROLE, () ->
                    arm.resources().getResources().createOrUpdateById(ArmBootstrap.relative(id), API_VERSION, topic, Context.NONE));
            report.created("systemTopic", id);
            return new Topic(id, principalOf(created, "systemTopic"));
        }
        JsonNode t = found.get();
        String id = t.path("id").asText();
        String type = t.path("identity").path("type").asText("None");
        if (type.toLowerCase(Locale.ROOT).contains("systemassigned")) {
            report.found("systemTopic", id);
            return new Topic(id, t.path("identity").path("principalId").asText());
        }
        // Found without a system identity: add one, keeping any user-assigned identities it has.
        GenericResourceInner current = ArmErrors.during("systemTopic", TOPIC_ROLE, () ->
                arm.resources().getResources().getById(ArmBootstrap.relative(id), API_VERSION));
        Identity identity = current.identity() == null ? new Identity() : current.identity();
        identity.withType(identity.type() == ResourceIdentityType.USER_ASSIGNED
                ? ResourceIdentityType.SYSTEM_ASSIGNED_USER_ASSIGNED : ResourceIdentityType.SYSTEM_ASSIGNED);
        GenericResourceInner updated = ArmErrors.during("systemTopic", TOPIC_ROLE, () ->
                arm.resources().getResources().createOrUpdateById(ArmBootstrap.relative(id), API_VERSION, new GenericResourceInner()
                        .withLocation(current.location()).withIdentity(identity).withProperties(current.properties()),
                        Context.NONE));
        report.changed("systemTopic", id, "identity " + type + " -> " + identity.type());
        return new Topic(id, principalOf(updated, "systemTopic"));
    }

    private Optional<JsonNode> findBySource(BootstrapPlan plan) {
        String next = plan.resourceGroupId() + "/providers/Microsoft.EventGrid/systemTopics?api-version=" + API_VERSION;
        while (next != null) {
            JsonNode page = arm.get(next);
            for (JsonNode t : page.path("value")) {
                // ARM reports the source in lower case; resource ids compare case-insensitively.
                if (plan.accountId().equalsIgnoreCase(t.path("properties").path("source").asText())) {
                    return Optional.of(t);
                }
            }
            String link = page.path("nextLink").asText(null);
            next = link == null || link.isBlank() ? null : link.replaceFirst("^https?://[^/]+", "");
        }
        return Optional.empty();
    }

    private static String principalOf(GenericResourceInner topic, String step) {
        if (topic.identity() == null || topic.identity().principalId() == null) {
            throw new dev.ckptvault.error.ConflictException("NoTopicIdentity",
                    step + ": Azure returned the system topic without a system-assigned identity", step);
        }
        return topic.identity().principalId();
    }

    /** The event subscription as bootstrap wants it: the ARM wire shape of its properties. */
    static Map<String, Object> wantedSubscription(BootstrapPlan plan) {
        Map<String, Object> destProps = new LinkedHashMap<>();
        destProps.put("resourceId", plan.functionAppId().orElseThrow() + "/functions/" + plan.functionName());
        // The EventGridTrigger takes one event per invocation.
        destProps.put("maxEventsPerBatch", 1);
        destProps.put("preferredBatchSizeInKilobytes", 64);
        Map<String, Object> filter = new LinkedHashMap<>();
        filter.put("includedEventTypes", EVENT_TYPES);
        filter.put("subjectBeginsWith", "/blobServices/default/containers/" + plan.container() + "/");
        Map<String, Object> props = new LinkedHashMap<>();
        props.put("destination", Map.of("endpointType", "AzureFunction", "properties", destProps));
        props.put("filter", filter);
        props.put("eventDeliverySchema", "EventGridSchema");
        props.put("retryPolicy", Map.of("maxDeliveryAttempts", MAX_DELIVERY_ATTEMPTS,
                "eventTimeToLiveInMinutes", EVENT_TTL_MINUTES));
        props.put("deadLetterWithResourceIdentity", Map.of(
                "identity", Map.of("type", "SystemAssigned"),
                "deadLetterDestination", Map.of("endpointType", "StorageBlob", "properties", Map.of(
                        "resourceId", plan.accountId(), "blobContainerName", plan.deadLetterContainer()))));
        return props;
    }

    void eventSubscription(BootstrapPlan plan, Topic topic, BootstrapReport report) {
        String id = topic.id() + "/eventSubscriptions/" + BootstrapPlan.EVENT_SUBSCRIPTION_NAME;
        Map<String, Object> wanted = wantedSubscription(plan);
        Optional<GenericResourceInner> existing = ArmErrors.during("eventSubscription", SUBSCRIPTION_ROLE, () ->
                ArmBootstrap.orEmpty(() -> arm.resources().getResources().getByIdWithResponse(ArmBootstrap.relative(id), API_VERSION,
                        Context.NONE).getValue()));
        List<String> diffs = existing.isEmpty() ? List.of()
                : differences(Json.MAPPER.valueToTree(wanted), Json.MAPPER.valueToTree(existing.get().properties()));
        if (existing.isPresent() && diffs.isEmpty()) {
            report.found("eventSubscription", id);
            return;
        }
        ArmErrors.during("eventSubscription", SUBSCRIPTION_ROLE, () -> arm.resources().getResources()
                .createOrUpdateById(ArmBootstrap.relative(id), API_VERSION, new GenericResourceInner().withProperties(wanted), Context.NONE));
        if (existing.isEmpty()) {
            report.created("eventSubscription", id);
        } else {
            report.changed("eventSubscription", id, "differs in " + String.join(", ", diffs));
        }
    }

    /**
     * The fields of {@code wanted} that {@code actual} does not match. Ids compare
     * case-insensitively; fields Azure adds (provisioningState, topic, labels...) are ignored.
     */
    static List<String> differences(JsonNode wanted, JsonNode actual) {
        List<String> out = new ArrayList<>();
        diff("", wanted, actual == null ? Json.MAPPER.nullNode() : actual, out);
        return out;
    }

    private static void diff(String path, JsonNode wanted, JsonNode actual, List<String> out) {
        if (wanted.isObject()) {
            if (!actual.isObject()) {
                out.add(path.isEmpty() ? "properties" : path);
                return;
            }
            wanted.fields().forEachRemaining(f -> diff(path.isEmpty() ? f.getKey() : path + "." + f.getKey(),
                    f.getValue(), actual.path(f.getKey()), out));
        } else if (wanted.isArray()) {
            Set<String> w = new HashSet<>();
            wanted.forEach(v -> w.add(v.asText().toLowerCase(Locale.ROOT)));
            Set<String> a = new HashSet<>();
            actual.forEach(v -> a.add(v.asText().toLowerCase(Locale.ROOT)));
            if (!w.equals(a)) {
                out.add(path);
            }
        } else if (wanted.isNumber()) {
            if (!actual.isNumber() || actual.asLong() != wanted.asLong()) {
                out.add(path);
            }
        } else if (!wanted.asText().equalsIgnoreCase(actual.asText(null) == null ? "" : actual.asText())) {
            out.add(path);
        }
    }
}
