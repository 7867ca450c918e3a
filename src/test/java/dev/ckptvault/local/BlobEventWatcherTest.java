package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobClient;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.testing.TestApp;

class BlobEventWatcherTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();
    static TestApp ctx;

    final List<CheckpointId> open = new CopyOnWriteArrayList<>();
    final List<ObjectNode> delivered = new CopyOnWriteArrayList<>();
    final AtomicInteger failuresToInject = new AtomicInteger();
    BlobEventWatcher watcher;

    @BeforeAll
    static void context() {
        ctx = AZURITE.app();
    }

    @BeforeEach
    void watcher() {
        delivered.clear();
        watcher = new BlobEventWatcher(ctx.storage.container(), "devstoreaccount1", () -> List.copyOf(open), events -> {
            if (failuresToInject.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                return "refused (test)";
            }
            delivered.addAll(events);
            return null;
        }, Clock.systemUTC());
    }

    /** Writes a blob; returns its ETag as the PUT answer's header carries it (the SDK strips the quotes). */
    private static String put(String name, String text) {
        BlobClient blob = ctx.storage.container().getBlobClient(name);
        String eTag = blob.uploadWithResponse(new com.azure.storage.blob.options.BlobParallelUploadOptions(
                BinaryData.fromString(text)), null, null).getValue().getETag();
        return eTag.startsWith("\"") ? eTag : "\"" + eTag + "\"";
    }

    private List<String> types() {
        return delivered.stream().map(e -> e.get("eventType").asText() + " " + e.get("subject").asText()
                .substring(e.get("subject").asText().indexOf("/blobs/") + 7)).toList();
    }

    @Test
    void aNewBlobOfAnOpenCheckpointEmitsBlobCreatedInAzuresEventGridShape() {
        CheckpointId id = CheckpointId.of("shape", 1);
        open.add(id);
        String eTag = put(id.prefix() + "rank-0/model.bin", "hello");
        assertEquals(1, watcher.pollOnce());
        JsonNode e = delivered.get(0);
        assertEquals(List.of("topic", "subject", "eventType", "eventTime", "id", "data", "dataVersion", "metadataVersion"),
                fieldNames(e));
        assertEquals("/subscriptions/" + BlobEventWatcher.LOCAL_SUBSCRIPTION + "/resourceGroups/local/providers/"
                + "Microsoft.Storage/storageAccounts/devstoreaccount1", e.get("topic").asText());
        assertEquals("/blobServices/default/containers/" + ctx.config.container() + "/blobs/shape/step-000000000001/rank-0/model.bin",
                e.get("subject").asText());
        assertEquals("Microsoft.Storage.BlobCreated", e.get("eventType").asText());
        assertEquals("", e.get("dataVersion").asText());
        assertEquals("1", e.get("metadataVersion").asText());
        JsonNode d = e.get("data");
        assertEquals(List.of("api", "clientRequestId", "requestId", "eTag", "contentType", "contentLength", "blobType",
                "url", "sequencer", "storageDiagnostics"), fieldNames(d));
        assertEquals(eTag, d.get("eTag").asText(), "the same eTag the writer got from its PUT");
        assertEquals(5, d.get("contentLength").asLong());
        assertEquals("BlockBlob", d.get("blobType").asText());
        assertEquals(ctx.storage.container().getBlobContainerUrl() + "/" + id.prefix() + "rank-0/model.bin",
                d.get("url").asText());
        assertTrue(d.get("sequencer").asText().matches("[0-9a-f]{32}"), d.get("sequencer").asText());
        assertTrue(d.get("storageDiagnostics").get("batchId").isTextual());
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> names = new ArrayList<>();
        n.fieldNames().forEachRemaining(names::add);
        return names;
    }

    @Test
    void overwritesEmitCreatedAgainWithAHigherSequencerAndDeletesEmitDeleted() {
        CheckpointId id = CheckpointId.of("changes", 2);
        open.add(id);
        put(id.prefix() + "a.bin", "one");
        put(id.prefix() + "b.bin", "two");
        assertEquals(2, watcher.pollOnce());
        assertEquals(0, watcher.pollOnce(), "nothing changed, nothing emitted");
        String firstSequencer = delivered.get(0).get("data").get("sequencer").asText();

        delivered.clear();
        String newTag = put(id.prefix() + "a.bin", "one, rewritten");
        ctx.storage.container().getBlobClient(id.prefix() + "b.bin").delete();
        assertEquals(2, watcher.pollOnce());
        assertEquals(List.of("Microsoft.Storage.BlobCreated a.bin", "Microsoft.Storage.BlobDeleted b.bin"),
                types().stream().map(t -> t.replace(id.prefix(), "")).toList());
        JsonNode rewritten = delivered.get(0).get("data");
        assertEquals(newTag, rewritten.get("eTag").asText());
        assertTrue(rewritten.get("sequencer").asText().compareTo(firstSequencer) > 0, "per-blob order compares as strings");
        JsonNode deleted = delivered.get(1).get("data");
        assertEquals("DeleteBlob", deleted.get("api").asText());
        assertTrue(!deleted.has("eTag") && !deleted.has("contentLength"), "BlobDeleted carries neither, as in Azure");
    }

    @Test
    void aRefusedBatchIsDeliveredAgainOnTheNextPoll() {
        CheckpointId id = CheckpointId.of("retry", 3);
        open.add(id);
        put(id.prefix() + "x.bin", "x");
        failuresToInject.set(1);
        assertEquals(0, watcher.pollOnce());
        assertTrue(delivered.isEmpty());
        assertEquals(1, watcher.pollOnce());
        assertEquals(List.of("Microsoft.Storage.BlobCreated " + id.prefix() + "x.bin"), types());
    }

    @Test
    void pollCostDoesNotGrowWithSettledCheckpointsAndALeavingCheckpointIsListedOnceMore() {
        for (int step = 0; step < 30; step++) {
            put(CheckpointId.of("settled", step).prefix() + "f.bin", "done");
        }
        CheckpointId active = CheckpointId.of("cost", 10);
        CheckpointId committing = CheckpointId.of("cost", 20);
        open.add(active);
        open.add(committing);
        put(active.prefix() + "f.bin", "a");
        put(committing.prefix() + "f.bin", "c");

        long before = watcher.listings();
        watcher.pollOnce();
        watcher.pollOnce();
        assertEquals(4, watcher.listings() - before, "two polls of two open checkpoints: four listings, settled ones never");
        assertTrue(types().stream().noneMatch(t -> t.contains("settled/")));

        // The commit writes its record, then the checkpoint leaves the open set.
        put(committing.prefix() + "_commit.json", "{}");
        open.remove(committing);
        delivered.clear();
        before = watcher.listings();
        watcher.pollOnce();
        assertEquals(2, watcher.listings() - before, "one final listing of the checkpoint that left");
        assertEquals(List.of("Microsoft.Storage.BlobCreated " + committing.prefix() + "_commit.json"), types());
        assertEquals(java.util.Set.of(active), watcher.watched());

        before = watcher.listings();
        watcher.pollOnce();
        watcher.pollOnce();
        assertEquals(2, watcher.listings() - before, "from then on only the open checkpoint is listed");
    }
}
