package dev.ckptvault.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.messaging.eventgrid.EventGridEvent;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The defect in azure-messaging-eventgrid 4.31.5 that {@link BlobEventParser} guards against,
 * reproduced in its smallest form. The generated deserializer
 * ({@code implementation.models.EventGridEvent.fromJson}, reached from the public
 * {@code EventGridEvent.fromString}) loops {@code while (reader.nextToken() != END_OBJECT)} and
 * reads {@code id}, {@code topic}, {@code subject}, {@code eventType}, {@code eventTime},
 * {@code dataVersion} and {@code metadataVersion} with {@code getString()}, which does not consume
 * an array. After {@code {"id":[]}} it is out of step with the document, consumes the closing
 * brace as a value, and from then on receives END_DOCUMENT forever: the call never returns and
 * holds its thread at full CPU. StorageBlobCreatedEventData / StorageBlobDeletedEventData do the
 * same for their string fields ({@code {"sequencer":[]}}).
 */
class EventGridSdkLoopTest {
    static final String SMALLEST = "{\"id\":[]}";

    @Test
    void fromStringNeverReturnsOnAnEmptyArrayInAStringField() throws Exception {
        CountDownLatch returned = new CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                EventGridEvent.fromString(SMALLEST);
            } catch (RuntimeException expectedForOtherInputs) {
                // A well-behaved parser would end up here: the input lacks required fields.
            }
            returned.countDown();
        }, "sdk-loop-reproduction");
        t.setDaemon(true);
        t.start();
        boolean done = returned.await(2, TimeUnit.SECONDS);
        stop(t);
        assertEquals(false, done, "EventGridEvent.fromString(" + SMALLEST + ") returned: the SDK defect is fixed");
    }

    @Test
    void theGeneratedDeserializerReadsPastTheEndOfTheDocument() throws Exception {
        // Through a reader that allows one token per character, the loop shows as a read past the end.
        BoundedJsonReader.ReadPastTheEnd e = assertTimeoutPreemptively(Duration.ofSeconds(2), () ->
                assertThrows(BoundedJsonReader.ReadPastTheEnd.class, () ->
                        com.azure.messaging.eventgrid.implementation.models.EventGridEvent.fromJson(
                                BoundedJsonReader.of(SMALLEST))));
        assertTrue(e.getMessage().contains("9-character"), e.getMessage());
        // Data of a storage event, the same way.
        assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertThrows(BoundedJsonReader.ReadPastTheEnd.class,
                () -> com.azure.messaging.eventgrid.systemevents.StorageBlobCreatedEventData.fromJson(
                        BoundedJsonReader.of("{\"sequencer\":[]}"))));
        // A well-formed document reads normally through the same reader.
        assertEquals("x", com.azure.messaging.eventgrid.implementation.models.EventGridEvent.fromJson(
                BoundedJsonReader.of("{\"id\":\"x\"}")).getId());
    }

    /** The looping thread would spin for the rest of the test run: stopped where the JDK still allows it. */
    @SuppressWarnings({"deprecation", "removal"})
    private static void stop(Thread t) {
        try {
            t.stop();
        } catch (UnsupportedOperationException e) {
            // JDK 20 and later: the daemon thread spins until the JVM exits.
        }
    }
}
