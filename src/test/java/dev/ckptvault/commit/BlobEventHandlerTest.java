package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.functions.BlobEventsFunction;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.EventSamples.Schema;
import dev.ckptvault.testing.Trainer;
import dev.ckptvault.wiring.AppContext;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.testing.TestApp;

class BlobEventHandlerTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;
    static Trainer trainer;
    static String account;
    static String blob = "evt/step-000000000001/a.bin";

    @BeforeAll
    static void setUp() throws Exception {
        ctx = AZURITE.app();
        trainer = new Trainer(ctx);
        account = ctx.storage.blobService().getAccountName();
        trainer.write("evt", 1, Map.of("a.bin", "abc".getBytes(StandardCharsets.UTF_8)));
        trainer.deliverCreated(blob, Schema.EVENT_GRID);
    }

    private static String snapshot() {
        return trainer.get("evt", 1, false).text();
    }

    @Test
    void badEventsAreAcknowledgedAndChangeNothing() {
        String before = snapshot();
        String seq = EventSamples.nextSequencer();
        List<String> bad = List.of(
                "",
                "{not json",
                "[{\"eventType\":\"Microsoft.Storage.BlobCreated\"}]",
                EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), blob, "\"0x1\"", 3, seq)
                        .replace("\"contentLength\":3", "\"contentLength\":\"three\""),
                EventSamples.created(Schema.CLOUD_EVENTS, account, ctx.config.container(), blob, "\"0x1\"", 3, seq)
                        .replace("\"sequencer\":\"" + seq + "\",", ""),
                EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(),
                        "evt/step-000000000001/" + "x".repeat(4000), "\"0x1\"", 3, seq));
        for (String e : bad) {
            List<BlobEventHandler.Outcome> out = ctx.events.handle(e);
            assertEquals(List.of(BlobEventHandler.Outcome.BAD), out, e.length() > 80 ? e.substring(0, 80) : e);
            ctx.function(BlobEventsFunction.class).run(e, null);
        }
        assertEquals(before, snapshot());
    }

    @Test
    void eventsOfOtherAccountsContainersAndBlobsOutsideTheLayoutAreIgnored() {
        String before = snapshot();
        String seq = EventSamples.nextSequencer();
        assertEquals(List.of(BlobEventHandler.Outcome.IGNORED), ctx.events.handle(EventSamples.deleted(
                Schema.EVENT_GRID, "otheraccount", ctx.config.container(), blob, seq)));
        assertEquals(List.of(BlobEventHandler.Outcome.IGNORED), ctx.events.handle(EventSamples.deleted(
                Schema.CLOUD_EVENTS, account, "other-container", blob, seq)));
        assertEquals(List.of(BlobEventHandler.Outcome.IGNORED), ctx.events.handle(EventSamples.deleted(
                Schema.EVENT_GRID, account, ctx.config.container(), "evt/notastep/a.bin", seq)));
        assertEquals(before, snapshot());
    }

    @Test
    void aRedeliveredEventIsStale() {
        var props = ctx.storage.container().getBlobClient(blob).getProperties();
        String e = EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), blob, props.getETag(),
                props.getBlobSize(), EventSamples.nextSequencer());
        assertEquals(List.of(BlobEventHandler.Outcome.APPLIED), ctx.events.handle(e));
        assertEquals(List.of(BlobEventHandler.Outcome.STALE), ctx.events.handle(e));
    }

    @Test
    void healthLearnsThatAnEventArrived() {
        Instant before = Instant.now();
        ctx.events.handle(EventSamples.deleted(Schema.EVENT_GRID, account, ctx.config.container(),
                "evt/step-000000000009/gone.bin", EventSamples.nextSequencer()));
        assertFalse(ctx.lastEvent.at().orElseThrow().isBefore(before.minusSeconds(1)));
    }

    @Test
    void unavailableStorageThrowsSoEventGridRetries() {
        AppContext down = new AppContext(CkptConfig.fromMap(Map.of("CKPT_STORAGE",
                AzuriteProcess.connectionString(1, 2), "CKPT_SWEEP_SCHEDULE", "0 */5 * * * *")), Clock.systemUTC());
        String e = EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), blob, "\"0x1\"", 3,
                EventSamples.nextSequencer());
        assertThrows(StorageUnavailableException.class, () -> down.function(BlobEventsFunction.class).run(e, null));
    }

    /**
     * A handling cut short (the host stopping, a cancelled invocation) used to be acknowledged as
     * an event that can never be applied, so Event Grid never delivered it again.
     */
    @Test
    void anEventWhoseHandlingIsInterruptedIsNotAcknowledgedAndItsRedeliveryIsApplied() throws Exception {
        String second = "evt/step-000000000002/b.bin";
        trainer.write("evt", 2, Map.of("b.bin", "xyz".getBytes(StandardCharsets.UTF_8)));
        var props = ctx.storage.container().getBlobClient(second).getProperties();
        String e = EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), second, props.getETag(),
                props.getBlobSize(), EventSamples.nextSequencer());
        int filesBefore = ctx.index.files(CheckpointId.of("evt", 2)).size();
        Thread.currentThread().interrupt();
        try {
            assertThrows(StorageUnavailableException.class, () -> ctx.events.handle(e));
        } finally {
            Thread.interrupted();
        }
        assertEquals(List.of(BlobEventHandler.Outcome.APPLIED), ctx.events.handle(e));
        assertTrue(ctx.index.files(CheckpointId.of("evt", 2)).size() >= Math.max(1, filesBefore));
    }

    /**
     * Eight deliveries that made the SDK's parser spin forever used to pin all eight of the local
     * host's event threads (and a Functions worker's); every later delivery then hung.
     */
    @Test
    void eightLoopingEventsNeverHoldAThreadAndTheNextEventIsHandled() {
        String looping = EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), blob, "\"0x1\"", 3,
                EventSamples.nextSequencer()).replace("\"dataVersion\":\"\"", "\"dataVersion\":[]");
        assertTrue(looping.contains("\"dataVersion\":[]"), looping);
        var props = ctx.storage.container().getBlobClient(blob).getProperties();
        String good = EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), blob, props.getETag(),
                props.getBlobSize(), EventSamples.nextSequencer());
        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                List<Future<List<BlobEventHandler.Outcome>>> runs = new ArrayList<>();
                for (int i = 0; i < 8; i++) {
                    runs.add(threads.submit(() -> ctx.events.handle(looping)));
                }
                for (Future<List<BlobEventHandler.Outcome>> f : runs) {
                    assertEquals(List.of(BlobEventHandler.Outcome.BAD), f.get());
                }
                assertEquals(List.of(BlobEventHandler.Outcome.APPLIED), threads.submit(() -> ctx.events.handle(good)).get());
            });
        } finally {
            threads.shutdownNow();
        }
    }

    @Test
    void anEventAboutABlobThatDoesNotExistChangesNothing() {
        String before = snapshot();
        String seq = EventSamples.nextSequencer();
        // A run record that was never written: no run appears.
        ctx.events.handle(EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(), "ghost-run/_run.json",
                "\"0x8D000000000AAAA\"", 40, seq));
        assertTrue(ctx.index.run(new RunId("ghost-run")).isEmpty(), "a run was created from a made-up event");
        // A file of a checkpoint nobody wrote, and one more file of a real checkpoint.
        ctx.events.handle(EventSamples.created(Schema.CLOUD_EVENTS, account, ctx.config.container(),
                "ghost-run/step-000000000001/a.bin", "\"0x8D000000000BBBB\"", 5, EventSamples.nextSequencer()));
        assertTrue(ctx.index.files(CheckpointId.of("ghost-run", 1)).isEmpty());
        assertTrue(ctx.index.checkpoint(CheckpointId.of("ghost-run", 1)).isEmpty());
        ctx.events.handle(EventSamples.created(Schema.EVENT_GRID, account, ctx.config.container(),
                "evt/step-000000000001/ghost.bin", "\"0x8D000000000CCCC\"", 5, EventSamples.nextSequencer()));
        assertEquals(before, snapshot());
        assertTrue(ctx.index.file(CheckpointId.of("evt", 1), "ghost.bin").isEmpty());
    }
}
