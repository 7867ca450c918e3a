package dev.ckptvault.events;

import com.azure.core.credential.AzureKeyCredential;
import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.core.http.policy.ExponentialBackoffOptions;
import com.azure.core.http.policy.RetryOptions;
import com.azure.core.util.BinaryData;
import com.azure.messaging.eventgrid.EventGridEvent;
import com.azure.messaging.eventgrid.EventGridPublisherClient;
import com.azure.messaging.eventgrid.EventGridPublisherClientBuilder;
import dev.ckptvault.json.Json;
import java.net.URI;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;

/**
 * Publishes to an Event Grid custom topic (Event Grid schema) with the topic's access key, or
 * with the app's identity (role EventGrid Data Sender) when no key is set. That identity is the
 * one the app signs in to storage with: in Azure the function app has only its user-assigned
 * identity, which a credential finds only by its client id (the platform's token service answers
 * a request that names no identity with the system-assigned one, which the app does not have).
 */
public final class EventGridOutgoingPublisher implements OutgoingEventPublisher {
    private final EventGridPublisherClient<EventGridEvent> client;

    /**
     * @param identity   the app's identity; used when there is no key, and then required
     * @param httpClient null for the SDK's default transport (tests pass one that trusts their certificate)
     */
    public EventGridOutgoingPublisher(URI endpoint, Optional<String> key, TokenCredential identity, HttpClient httpClient) {
        EventGridPublisherClientBuilder b = new EventGridPublisherClientBuilder().endpoint(endpoint.toString())
                // A few quick tries: an unavailable topic must not hold the sweep; the sweep retries later.
                .retryOptions(new RetryOptions(new ExponentialBackoffOptions().setMaxRetries(2)
                        .setBaseDelay(Duration.ofMillis(200)).setMaxDelay(Duration.ofSeconds(2))));
        if (key.isPresent()) {
            b.credential(new AzureKeyCredential(key.get()));
        } else if (identity != null) {
            b.credential(identity);
        } else {
            throw new IllegalArgumentException("publishing to " + endpoint + " needs a topic key or the app's identity");
        }
        if (httpClient != null) {
            b.httpClient(httpClient);
        }
        this.client = b.buildEventGridEventPublisherClient();
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public void publish(List<OutgoingEvent> events) {
        if (events.isEmpty()) {
            return;
        }
        client.sendEvents(events.stream().map(EventGridOutgoingPublisher::toEventGrid).toList());
    }

    static EventGridEvent toEventGrid(OutgoingEvent e) {
        EventGridEvent out = new EventGridEvent(e.subject(), e.type(), BinaryData.fromBytes(Json.bytes(e.data())),
                OutgoingEvent.DATA_VERSION);
        out.setId(e.id());
        out.setEventTime(e.eventTime().atOffset(ZoneOffset.UTC));
        return out;
    }
}
