package dev.ckptvault.local;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * POSTs events to a Functions host's Event Grid webhook (e.g. {@code func start} on port 7071),
 * exactly as Event Grid delivers them: an Event Grid schema array with
 * {@code aeg-event-type: Notification}. Any answer other than 2xx is a failed delivery.
 */
public final class WebhookForwarder implements EventSink {
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private final URI endpoint;

    /**
     * @param host         e.g. http://127.0.0.1:7071
     * @param functionName the Event Grid function to deliver to
     * @param key          system or master key for a host that checks keys, or null
     */
    public WebhookForwarder(URI host, String functionName, String key) {
        String base = host.toString().replaceAll("/+$", "");
        this.endpoint = URI.create(base + EventGridWebhook.PATH + "?functionName="
                + URLEncoder.encode(functionName, StandardCharsets.UTF_8)
                + (key == null ? "" : "&code=" + URLEncoder.encode(key, StandardCharsets.UTF_8)));
    }

    @Override
    public String deliver(List<ObjectNode> events) {
        HttpRequest request = HttpRequest.newBuilder(endpoint)
                .timeout(Duration.ofMinutes(2))
                .header("Content-Type", "application/json")
                .header("aeg-event-type", "Notification")
                .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(events)))
                .build();
        try {
            HttpResponse<String> r = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
            return r.statusCode() / 100 == 2 ? null : "webhook answered " + r.statusCode() + ": " + r.body();
        } catch (IOException e) {
            return "webhook unreachable: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        }
    }
}
