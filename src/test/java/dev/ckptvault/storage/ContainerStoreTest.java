package dev.ckptvault.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.http.HttpMethod;
import com.azure.core.util.BinaryData;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.models.BlobProperties;
import com.azure.storage.blob.options.BlobParallelUploadOptions;
import dev.ckptvault.checkpoint.ETags;
import dev.ckptvault.checkpoint.StoredBlob;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@link ContainerStore}, the app's one blob gateway, against Azurite. Each test works under its own prefix. */
class ContainerStoreTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static final String CONTAINER = "checkpoints";
    static final String MY_LEASE = "11111111-1111-1111-1111-111111111111";
    static final String OTHER_LEASE = "22222222-2222-2222-2222-222222222222";

    static StorageClients clients;
    static BlobContainerClient container;
    static ContainerStore store;
    static ExecutorService pool;

    @BeforeAll
    static void setUp() {
        clients = new StorageClients(CkptConfig.fromMap(AZURITE.settings(Map.of("CKPT_CONTAINER", CONTAINER))));
        container = clients.container();
        container.createIfNotExists();
        store = new ContainerStore(container);
        pool = Executors.newFixedThreadPool(4);
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Writes a blob as a trainer would; returns its eTag (quoted). */
    static String put(String name, String content, Map<String, String> metadata) {
        return ETags.normalize(container.getBlobClient(name).uploadWithResponse(
                new BlobParallelUploadOptions(BinaryData.fromString(content)).setMetadata(metadata), null, null)
                .getValue().getETag());
    }

    static String put(String name, String content) {
        return put(name, content, null);
    }

    static String content(String name) {
        return container.getBlobClient(name).downloadContent().toString();
    }

    static boolean exists(String name) {
        return container.getBlobClient(name).exists();
    }

    // ---- writes of app records ----------------------------------------------------------------

    @Test
    void createIfAbsentCreatesOnceAndLeavesTheFirstContent() {
        String name = "create/step-000000000001/_commit.json";
        assertTrue(store.createIfAbsent(name, bytes("first"), Map.of("pinned", "false")));
        assertFalse(store.createIfAbsent(name, bytes("second"), Map.of()));
        assertEquals("first", content(name));
        assertEquals(Map.of("pinned", "false"), store.metadata(name).orElseThrow());
    }

    @Test
    void replaceIfMatchReplacesOnlyTheVersionTheCallerSaw() {
        String name = "replace/_run.json";
        store.createIfAbsent(name, bytes("v1"), Map.of());
        String seen = store.read(name).orElseThrow().etag();
        assertTrue(store.replaceIfMatch(name, seen, bytes("v2"), Map.of()));
        assertFalse(store.replaceIfMatch(name, seen, bytes("v3"), Map.of()), "stale eTag");
        assertEquals("v2", content(name));
        assertFalse(store.replaceIfMatch("replace/missing.json", seen, bytes("v"), Map.of()), "no such blob");
        assertFalse(exists("replace/missing.json"));
    }

    @Test
    void deleteIfMatchDeletesOnlyTheVersionTheCallerSaw() {
        String name = "delete-if/step-000000000001/_attempt.json";
        store.createIfAbsent(name, bytes("a1"), Map.of());
        String stale = store.etag(name).orElseThrow();
        store.replaceIfMatch(name, stale, bytes("a2"), Map.of());
        assertFalse(store.deleteIfMatch(name, stale), "stale eTag");
        assertTrue(exists(name));
        assertTrue(store.deleteIfMatch(name, store.etag(name).orElseThrow()));
        assertFalse(exists(name));
        assertFalse(store.deleteIfMatch(name, stale), "already gone");
    }

    @Test
    void readAnswersTheContentAndTheETagOfThatVersion() {
        String name = "read/_run.json";
        String etag = put(name, "{\"runId\":\"read\"}");
        ContainerStore.Content c = store.read(name).orElseThrow();
        assertArrayEquals(bytes("{\"runId\":\"read\"}"), c.data());
        assertEquals(etag, c.etag());
        assertEquals(etag, store.etag(name).orElseThrow());
        assertArrayEquals(c.data(), store.download(name).orElseThrow());
        assertTrue(store.read("read/none.json").isEmpty());
        assertTrue(store.download("read/none.json").isEmpty());
        assertTrue(store.etag("read/none.json").isEmpty());
    }

    // ---- listings --------------------------------------------------------------------------------

    @Test
    void recordsSortsACheckpointsAppRecordsByKindAndNothingElse() {
        CheckpointId id = CheckpointId.of("records", 10);
        for (String record : List.of(CheckpointId.MANIFEST, CheckpointId.COMMIT, CheckpointId.ATTEMPT,
                CheckpointId.TOMBSTONE)) {
            put(id.prefix() + record, record);
        }
        put(id.prefix() + "rank-0/model.bin", "file");
        put(id.prefix() + "_stray.json", "not a record of the layout");
        put(CheckpointId.of("records", 100).manifestBlob(), "another step");
        put(CheckpointId.of("records", 1).commitBlob(), "another step");

        Map<BlobName.Kind, StoredBlob> records = store.records(id);
        assertEquals(Set.of(BlobName.Kind.MANIFEST, BlobName.Kind.COMMIT, BlobName.Kind.ATTEMPT,
                BlobName.Kind.TOMBSTONE), records.keySet());
        assertEquals(id.manifestBlob(), records.get(BlobName.Kind.MANIFEST).name());
        assertEquals(id.commitBlob(), records.get(BlobName.Kind.COMMIT).name());
        assertEquals(id.attemptBlob(), records.get(BlobName.Kind.ATTEMPT).name());
        assertEquals(id.tombstoneBlob(), records.get(BlobName.Kind.TOMBSTONE).name());
        assertTrue(store.records(CheckpointId.of("records", 11)).isEmpty());
    }

    @Test
    void listAnswersEachBlobWithQuotedETagSizeTimesMetadataAndLeaseState() {
        String a = "list/step-000000000001/rank-0/a.bin";
        String b = "list/step-000000000001/rank-1/b.bin";
        String etagA = put(a, "12345", Map.of("origin", "trainer"));
        put(b, "1234567");
        store.acquireLease(b, MY_LEASE);
        BlobProperties props = container.getBlobClient(a).getProperties();

        Map<String, StoredBlob> listed = store.list("list/", true).stream()
                .collect(Collectors.toMap(StoredBlob::name, Function.identity()));
        assertEquals(Set.of(a, b), listed.keySet());
        StoredBlob sa = listed.get(a);
        assertEquals(etagA, sa.etag());
        assertTrue(sa.etag().startsWith("\"") && sa.etag().endsWith("\""), sa.etag());
        assertEquals(5, sa.size());
        assertEquals(props.getLastModified().toInstant(), sa.lastModified());
        assertEquals(props.getCreationTime().toInstant(), sa.createdAt());
        assertEquals(Map.of("origin", "trainer"), sa.metadata());
        assertFalse(sa.leased());
        assertFalse(sa.cool());
        assertTrue(listed.get(b).leased());
        assertEquals(7, listed.get(b).size());

        assertEquals(Map.of(), store.list("list/", false).stream().filter(x -> x.name().equals(a)).findFirst()
                .orElseThrow().metadata(), "metadata only when asked");
        assertEquals(List.of(), store.list("list/step-000000000002/", true));
    }

    @Test
    void topLevelFoldersAreTheRunPrefixesNotLooseBlobs() {
        // A container of its own: the other tests' prefixes are top-level folders too.
        BlobContainerClient other = clients.blobService().getBlobContainerClient("folders");
        other.createIfNotExists();
        ContainerStore folders = new ContainerStore(other);
        for (String name : List.of("run-a/_run.json", "run-a/step-000000000001/x.bin", "run-b/step-000000000002/y.bin",
                "loose.txt")) {
            other.getBlobClient(name).upload(BinaryData.fromString(name), true);
        }
        assertEquals(List.of("run-a", "run-b"), folders.topLevelFolders().stream().sorted().toList());
    }

    // ---- metadata --------------------------------------------------------------------------------

    @Test
    void mergeMetadataSetsTheGivenEntriesAndKeepsTheOthers() {
        String name = "merge/step-000000000001/_commit.json";
        put(name, "{}", Map.of("pinned", "false", "keep", "me"));
        assertTrue(store.mergeMetadata(name, Map.of("pinned", "true", "added", "1")));
        assertEquals(Map.of("pinned", "true", "keep", "me", "added", "1"), store.metadata(name).orElseThrow());
        assertFalse(store.mergeMetadata("merge/none.json", Map.of("pinned", "true")));
        assertFalse(exists("merge/none.json"));
    }

    @Test
    void mergeMetadataSurvivesAConcurrentWriterOfAnotherKey() {
        String name = "merge-race/step-000000000001/_commit.json";
        put(name, "{}", Map.of("pinned", "false"));
        // B merges its key between A's read of the metadata and A's write of it.
        Interleaving race = new Interleaving(Interleaving.request(HttpMethod.PUT, "/_commit.json", "comp=metadata"),
                () -> assertTrue(store.mergeMetadata(name, Map.of("b", "from B"))));
        ContainerStore a = new ContainerStore(race.container(AZURITE.connectionString(), CONTAINER));

        assertTrue(a.mergeMetadata(name, Map.of("a", "from A")));

        assertTrue(race.fired());
        assertEquals(412, race.statuses().get(0), "A's first write was on a stale read: " + race.statuses());
        assertEquals(Map.of("pinned", "false", "a", "from A", "b", "from B"), store.metadata(name).orElseThrow());
    }

    // ---- leases ---------------------------------------------------------------------------------

    @Test
    void acquireLeaseSaysWhatItFound() {
        String name = "lease/step-000000000001/rank-0/a.bin";
        String etag = put(name, "data");
        ContainerStore.Lease first = store.acquireLease(name, MY_LEASE);
        assertEquals(ContainerStore.LeaseStatus.ACQUIRED, first.status());
        assertEquals(etag, first.etag(), "leasing does not change the version");
        assertEquals(ContainerStore.LeaseStatus.ACQUIRED, store.acquireLease(name, MY_LEASE).status(),
                "the same id again");
        ContainerStore.Lease other = store.acquireLease(name, OTHER_LEASE);
        assertEquals(ContainerStore.LeaseStatus.HELD_BY_OTHER, other.status());
        assertNull(other.etag());
        ContainerStore.Lease missing = store.acquireLease("lease/none.bin", MY_LEASE);
        assertEquals(ContainerStore.LeaseStatus.MISSING, missing.status());
        assertNull(missing.etag());
    }

    // ---- batches ---------------------------------------------------------------------------------

    /** Writes {@code n} small blobs under {@code prefix} in parallel; returns their names in order. */
    static List<String> putMany(String prefix, int n) throws Exception {
        List<String> names = IntStream.range(0, n).mapToObj(i -> String.format("%sf-%04d.bin", prefix, i)).toList();
        List<Future<?>> writes = new ArrayList<>();
        for (String name : names) {
            writes.add(pool.submit(() -> container.getBlobClient(name).upload(BinaryData.fromString("x"), true)));
        }
        for (Future<?> w : writes) {
            w.get();
        }
        return names;
    }

    static List<String> listed(String prefix) {
        return store.list(prefix, false).stream().map(StoredBlob::name).sorted().toList();
    }

    @Test
    void deleteAllCrossesBatchesAndHandsBackOnlyWhatALeaseRefused() throws Exception {
        String prefix = "batch/step-000000000001/";
        List<String> names = putMany(prefix, 262);
        // A missing blob is inserted at 100 below, so names 0-254 go in the first batch of 256, the rest in the second.
        String wrongIdFirstBatch = names.get(10);
        String noIdGiven = names.get(20);
        String wrongIdSecondBatch = names.get(259);
        String leasedMine = names.get(261);
        store.acquireLease(wrongIdFirstBatch, OTHER_LEASE);
        store.acquireLease(noIdGiven, OTHER_LEASE);
        store.acquireLease(wrongIdSecondBatch, OTHER_LEASE);
        store.acquireLease(leasedMine, MY_LEASE);

        List<ContainerStore.Target> targets = new ArrayList<>();
        for (String name : names) {
            boolean giveMyLease = name.equals(leasedMine) || name.equals(wrongIdFirstBatch)
                    || name.equals(wrongIdSecondBatch);
            targets.add(new ContainerStore.Target(name, giveMyLease ? MY_LEASE : null));
        }
        targets.add(100, new ContainerStore.Target(prefix + "never-written.bin", null));
        assertTrue(targets.size() > 256, "two batches");

        List<String> refused = store.deleteAll(targets);

        assertEquals(List.of(wrongIdFirstBatch, noIdGiven, wrongIdSecondBatch), refused);
        assertEquals(List.of(wrongIdFirstBatch, noIdGiven, wrongIdSecondBatch), listed(prefix),
                "every other blob is gone, the one leased under the id given too");
    }

    @Test
    void coolAllMovesBlobsToCoolAndHandsBackWhatALeaseRefused() throws Exception {
        String prefix = "cool/step-000000000001/";
        List<String> names = putMany(prefix, 4);
        store.acquireLease(names.get(1), MY_LEASE);
        store.acquireLease(names.get(2), OTHER_LEASE);

        List<String> refused = store.coolAll(List.of(new ContainerStore.Target(names.get(0), null),
                new ContainerStore.Target(names.get(1), MY_LEASE), new ContainerStore.Target(names.get(2), MY_LEASE),
                new ContainerStore.Target(prefix + "never-written.bin", null)));

        assertEquals(List.of(names.get(2)), refused);
        Map<String, Boolean> cool = new HashMap<>();
        store.list(prefix, false).forEach(b -> cool.put(b.name(), b.cool()));
        assertEquals(Map.of(names.get(0), true, names.get(1), true, names.get(2), false, names.get(3), false), cool);
    }
}
