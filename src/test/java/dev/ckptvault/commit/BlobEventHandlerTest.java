package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

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
import java.util.List;
import java.util.Map;
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
}
