package dev.ckptvault.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.EventSamples.Schema;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class BlobEventParserTest {
    private final BlobEventParser parser = new BlobEventParser();

    @ParameterizedTest
    @EnumSource(Schema.class)
    void readsMicrosoftsDocumentedBlobCreatedSample(Schema schema) {
        List<BlobEvent> events = parser.parse(EventSamples.raw(schema, "blob-created"));
        assertEquals(1, events.size());
        BlobEvent e = events.get(0);
        assertEquals(BlobEvent.Kind.CREATED, e.kind());
        assertEquals("my-storage-account", e.account());
        assertEquals("test-container", e.container());
        assertEquals("new-file.txt", e.blobName());
        assertEquals("\"0x8D4BCC2E4835CD0\"", e.eTag());
        assertEquals(524288, e.size());
        assertEquals("00000000000004420000000000028963", e.sequencer());
    }

    @ParameterizedTest
    @EnumSource(Schema.class)
    void readsMicrosoftsDocumentedBlobDeletedSample(Schema schema) {
        BlobEvent e = parser.parse(EventSamples.raw(schema, "blob-deleted")).get(0);
        assertEquals(BlobEvent.Kind.DELETED, e.kind());
        assertEquals("testcontainer", e.container());
        assertEquals("file-to-delete.txt", e.blobName());
        assertEquals("0000000000000281000000000002F5CA", e.sequencer());
        assertNull(e.eTag());
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "",
            "not json",
            "[{\"topic\":\"/subscriptions/x/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct\"}]",
            "[{\"topic\":\"/subscriptions/x/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct\","
                    + "\"subject\":\"/blobServices/default/containers/checkpoints/blobs/a\","
                    + "\"eventType\":\"Microsoft.Storage.BlobCreated\",\"eventTime\":\"2017-06-26T18:41:00Z\","
                    + "\"id\":\"1\",\"dataVersion\":\"\",\"data\":{\"eTag\":5,\"contentLength\":\"big\"}}]",
            "[{\"topic\":\"/subscriptions/x/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct\","
                    + "\"subject\":\"/blobServices/default/containers/checkpoints/blobs/a\","
                    + "\"eventType\":\"Microsoft.Storage.BlobCreated\",\"eventTime\":\"2017-06-26T18:41:00Z\","
                    + "\"id\":\"1\",\"dataVersion\":\"\",\"data\":{\"contentLength\":3}}]",
            "[{\"topic\":\"/subscriptions/x/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v\","
                    + "\"subject\":\"/blobServices/default/containers/checkpoints/blobs/a\","
                    + "\"eventType\":\"Microsoft.Storage.BlobCreated\",\"eventTime\":\"2017-06-26T18:41:00Z\","
                    + "\"id\":\"1\",\"dataVersion\":\"\",\"data\":{\"eTag\":\"x\",\"contentLength\":3,\"sequencer\":\"1\"}}]",
            "[{\"topic\":\"/subscriptions/x/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/acct\","
                    + "\"subject\":\"/blobServices/default/containers/checkpoints/blobs/a\","
                    + "\"eventType\":\"Microsoft.Storage.BlobTierChanged\",\"eventTime\":\"2017-06-26T18:41:00Z\","
                    + "\"id\":\"1\",\"dataVersion\":\"\",\"data\":{}}]"})
    void refusesEventsItCannotUseAsPermanentlyBad(String json) {
        assertThrows(BlobEventParser.BadEventException.class, () -> parser.parse(json));
    }

    @ParameterizedTest
    @EnumSource(Schema.class)
    void refusesAHugeSubject(Schema schema) {
        String huge = EventSamples.created(schema, "acct", "checkpoints", "r/step-000000000001/" + "a".repeat(5000),
                "\"0x1\"", 1, EventSamples.nextSequencer());
        assertThrows(BlobEventParser.BadEventException.class, () -> parser.parse(huge));
    }

    /**
     * A field the SDK reads as a string holding an empty array made azure-messaging-eventgrid
     * 4.31.5 spin forever (see {@code EventGridSdkLoopTest}). Each must be refused, quickly.
     */
    @ParameterizedTest
    @ValueSource(strings = {"dataVersion", "metadataVersion", "id", "subject", "eventType", "topic", "eventTime",
            "data.eTag", "data.sequencer", "data.api", "data.url", "data.contentType", "data.blobType",
            "data.clientRequestId", "data.requestId", "data.identity", "data.contentLength", "data"})
    void anEmptyArrayWhereTheSdkReadsAValueIsBadAndNeverLoops(String field) {
        ArrayNode batch = (ArrayNode) Json.parse(EventSamples.raw(Schema.EVENT_GRID, "blob-created"), "sample");
        ObjectNode target = (ObjectNode) batch.get(0);
        String name = field;
        if (field.startsWith("data.")) {
            target = (ObjectNode) target.get("data");
            name = field.substring(5);
        }
        target.putArray(name);
        String json = Json.write(batch);
        assertTimeoutPreemptively(Duration.ofSeconds(3),
                () -> assertThrows(BlobEventParser.BadEventException.class, () -> parser.parse(json)), field);
    }

    @ParameterizedTest
    @ValueSource(strings = {"id", "source", "type", "subject", "time", "specversion", "data.eTag", "data.sequencer"})
    void cloudEventsWithAnEmptyArrayWhereTheSdkReadsAValueAreBad(String field) {
        ArrayNode batch = (ArrayNode) Json.parse(EventSamples.raw(Schema.CLOUD_EVENTS, "blob-created"), "sample");
        ObjectNode target = (ObjectNode) batch.get(0);
        String name = field;
        if (field.startsWith("data.")) {
            target = (ObjectNode) target.get("data");
            name = field.substring(5);
        }
        target.putArray(name);
        String json = Json.write(batch);
        assertTimeoutPreemptively(Duration.ofSeconds(3),
                () -> assertThrows(BlobEventParser.BadEventException.class, () -> parser.parse(json)), field);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "[]", "[1]", "[[]]", "[{\"eventType\":{}}]", "[{\"data\":[]}]", "null", "true", "\"x\""})
    void shapesThatAreNotEventsAreBad(String json) {
        assertTimeoutPreemptively(Duration.ofSeconds(3),
                () -> assertThrows(BlobEventParser.BadEventException.class, () -> parser.parse(json)), json);
    }
}
