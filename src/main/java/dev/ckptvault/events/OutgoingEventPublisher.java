package dev.ckptvault.events;

import java.util.List;

/** Sends outgoing events to the configured topic. Throws when the topic did not accept them. */
public interface OutgoingEventPublisher {
    /** False when no topic is configured: nothing is sent and nothing is marked as sent. */
    boolean enabled();

    void publish(List<OutgoingEvent> events);

    /** The publisher of an app without a topic. */
    OutgoingEventPublisher DISABLED = new OutgoingEventPublisher() {
        @Override
        public boolean enabled() {
            return false;
        }

        @Override
        public void publish(List<OutgoingEvent> events) {
        }
    };
}
