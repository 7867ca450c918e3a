package dev.ckptvault.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.ErrorBody;
import dev.ckptvault.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Logger;
import dev.ckptvault.error.InvalidInputException;

/**
 * {@code /runtime/webhooks/eventgrid?functionName=NAME} as the Functions host's Event Grid
 * extension answers it (Microsoft.Azure.WebJobs.Extensions.EventGrid HttpRequestProcessor):
 *
 * <ul>
 *   <li>OPTIONS: the CloudEvents abuse-protection handshake, 200 with {@code WebHook-Allowed-Origin}
 *       (the Azure Event Grid origin the request names, else {@code eventgrid.azure.net});</li>
 *   <li>{@code aeg-event-type: SubscriptionValidation}: 200 {@code {"validationResponse": code}},
 *       the code from the first event's data (Event Grid schema array) or from a CloudEvent's
 *       data, which arrives double-encoded;</li>
 *   <li>{@code aeg-event-type: Notification}: a JSON array (Event Grid schema or a CloudEvents
 *       batch) or a single object (one CloudEvent); each event goes to the function; 202 when all
 *       succeeded, 500 when one threw (Event Grid then redelivers);</li>
 *   <li>{@code aeg-event-type: Unsubscribe}: 202; any other or no header: 400.</li>
 * </ul>
 * Unknown function names answer 404. Error answers use the app's JSON error shape.
 */
public final class EventGridWebhook {
    public static final String PATH = "/runtime/webhooks/eventgrid";
    private static final Logger LOG = Logger.getLogger(EventGridWebhook.class.getName());
    private static final Set<String> AZURE_ORIGINS = Set.of("eventgrid.azure.net", "eventgrid.azure.us",
            "eventgrid.azure.eaglex.ic.gov", "eventgrid.azure.microsoft.scloud", "eventgrid.azure.cn");

    /** An answer: status, headers, body text (may be empty). */
    public record Reply(int status, Map<String, String> headers, String body) {
        static Reply of(int status, String body) {
            return new Reply(status, Map.of("Content-Type", "application/json; charset=utf-8"), body);
        }

        static Reply error(int status, String code, String message) {
            return of(status, Json.write(ErrorBody.of(code, message, null)));
        }
    }

    private final EventGridDispatcher dispatcher;

    public EventGridWebhook(EventGridDispatcher dispatcher) {
        this.dispatcher = dispatcher;
    }

    /** @param headers lower-case names */
    public Reply handle(String method, Map<String, String> headers, Map<String, String> query, String body) {
        String name = query.get("functionName");
        Optional<FunctionHost.EventGridFunction> function =
                name == null ? Optional.empty() : dispatcher.host().eventGridFunction(name);
        if (function.isEmpty()) {
            List<String> known = dispatcher.host().eventGridFunctions().stream()
                    .map(FunctionHost.EventGridFunction::name).toList();
            return Reply.error(404, "NotFound", "cannot find function: '" + (name == null ? "" : name)
                    + "', available function names: " + known);
        }
        if (method.equals("OPTIONS")) {
            String origin = headers.get("webhook-request-origin");
            Map<String, String> h = new LinkedHashMap<>();
            h.put("WebHook-Allowed-Origin", origin != null && AZURE_ORIGINS.contains(origin) ? origin
                    : "eventgrid.azure.net");
            return new Reply(200, h, "");
        }
        if (!method.equals("POST")) {
            return new Reply(405, Map.of("Allow", "POST, OPTIONS"), "");
        }
        String type = headers.getOrDefault("aeg-event-type", "");
        try {
            if (type.equalsIgnoreCase("SubscriptionValidation")) {
                String code = validationCode(Json.parse(body == null ? "" : body, "body"));
                LOG.info("perform handshake with Event Grid for function: " + function.get().name());
                return Reply.of(200, Json.write(Map.of("validationResponse", code)));
            }
            if (type.equalsIgnoreCase("Notification")) {
                List<String> events = events(Json.parse(body == null ? "" : body, "body"));
                String failure = dispatcher.deliver(function.get(), events);
                return failure == null ? new Reply(202, Map.of(), "")
                        : Reply.error(500, "FunctionFailed", "function " + function.get().name() + " failed: " + failure);
            }
        } catch (ApiException e) {
            return Reply.error(400, e.code(), e.getMessage());
        }
        if (type.equalsIgnoreCase("Unsubscribe")) {
            return new Reply(202, Map.of(), "");
        }
        return Reply.error(400, "InvalidRequest", "header aeg-event-type must be Notification, "
                + "SubscriptionValidation or Unsubscribe; got '" + type + "'");
    }

    private static String validationCode(JsonNode events) {
        JsonNode data;
        if (events.isArray() && events.size() > 0) {
            data = events.get(0).path("data");
        } else if (events.isObject()) {
            data = events.path("data");
            // CloudEvents carry the validation data double-encoded, as a JSON string.
            if (data.isTextual()) {
                data = Json.parse(data.asText(), "body.data");
            }
        } else {
            throw new dev.ckptvault.error.InvalidInputException("InvalidRequest",
                    "a subscription validation body must be an event array or one CloudEvent", "body");
        }
        JsonNode code = data.path("validationCode");
        if (!code.isTextual()) {
            throw new dev.ckptvault.error.InvalidInputException("InvalidRequest",
                    "data.validationCode is missing from the subscription validation event", "body");
        }
        return code.asText();
    }

    private static List<String> events(JsonNode body) {
        List<String> out = new ArrayList<>();
        if (body.isArray()) {
            for (JsonNode e : (ArrayNode) body) {
                out.add(Json.write(e));
            }
        } else if (body.isObject()) {
            out.add(Json.write(body));
        } else {
            throw new dev.ckptvault.error.InvalidInputException("InvalidRequest",
                    "an event delivery must be a JSON array of events or one event object", "body");
        }
        return out;
    }
}
