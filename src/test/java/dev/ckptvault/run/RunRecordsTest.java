package dev.ckptvault.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.http.HttpMethod;
import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.Interleaving;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code {runId}/_run.json} as two app instances on one account write it. */
class RunRecordsTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static final Instant T_A = Instant.parse("2025-03-01T10:00:00Z");
    static final Instant T_B = Instant.parse("2025-03-01T09:00:00Z");

    static MutableClock clockA;
    static MutableClock clockB;
    static TestApp a;
    static TestApp b;

    @BeforeAll
    static void twoInstances() {
        clockA = new MutableClock(T_A);
        clockB = new MutableClock(T_B);
        a = AZURITE.app(Map.of(), clockA);
        b = AZURITE.app(Map.of(), clockB);
    }

    static ObjectNode retention(String singleQuoted) {
        return (ObjectNode) Json.parse(singleQuoted.replace('\'', '"'), "test");
    }

    static String raw(RunId run) {
        return a.storage.container().getBlobClient(RunRecords.blobName(run)).downloadContent().toString();
    }

    /** Instance A's run records, on a client whose first matching request waits for {@code meanwhile}. */
    static RunRecords instanceA(Interleaving race) {
        return new RunRecords(new ContainerStore(race.container(AZURITE.connectionString(), a.config.container())),
                a.index, clockA);
    }

    @Test
    void theFirstUploadCreatesTheRunRecordOnceWhicheverInstanceAsksLater() {
        RunId run = RunId.of("first-upload");
        assertEquals(200, new Trainer(a).uploads(run.value(), 1, List.of("a.bin")).status());
        RunRecords.Stored created = a.runs.read(run).orElseThrow();
        assertEquals(T_A, created.createdAt());
        assertEquals(Json.MAPPER.createObjectNode(), created.retention(), "the defaults apply");
        assertEquals(T_A, a.index.run(run).orElseThrow().createdAt(), "the run is listed at once");

        clockA.advance(Duration.ofMinutes(5));
        assertEquals(200, new Trainer(a).uploads(run.value(), 2, List.of("a.bin")).status());
        assertEquals(200, new Trainer(b).uploads(run.value(), 3, List.of("a.bin")).status());
        b.runs.ensureExists(run);

        RunRecords.Stored after = b.runs.read(run).orElseThrow();
        assertEquals(created.eTag(), after.eTag(), "never written again");
        assertEquals(T_A, after.createdAt());
        assertEquals(T_A, b.index.run(run).orElseThrow().createdAt());
    }

    @Test
    void twoInstancesPuttingANewRunAtOnceCreateItOnceAndBothWritesLand() {
        RunId run = RunId.of("race-new");
        AtomicReference<RunRecords.Stored> byB = new AtomicReference<>();
        // B creates the record with its policy after A found none and before A's create reaches storage.
        Interleaving race = new Interleaving(Interleaving.request(HttpMethod.PUT, "/_run.json", null),
                () -> byB.set(b.runs.putRetention(run, retention("{'keepLast':5}"))));

        RunRecords.Stored byA = instanceA(race).putRetention(run, retention("{'keepLast':3}"));

        assertTrue(race.fired());
        assertTrue(Set.of(409, 412).contains(race.statuses().get(0)), "A's create found B's: " + race.statuses());
        assertEquals(retention("{'keepLast':5}"), byB.get().retention());
        assertEquals(retention("{'keepLast':3}"), byA.retention(), "A's write landed after B's");
        RunRecords.Stored stored = a.runs.read(run).orElseThrow();
        assertEquals(retention("{'keepLast':3}"), stored.retention());
        assertEquals(T_B, stored.createdAt(), "created once, by the first writer");
        assertEquals(T_B, a.index.run(run).orElseThrow().createdAt());
    }

    @Test
    void twoInstancesPuttingAnExistingRunAtOnceLoseNothingOfTheRecord() {
        RunId run = RunId.of("race-existing");
        b.runs.ensureExists(run);
        // Fields this version does not know (a newer version wrote them) survive every update.
        ObjectNode written = (ObjectNode) Json.parse(raw(run), "record");
        written.put("owner", "team-x");
        a.storage.container().getBlobClient(RunRecords.blobName(run)).upload(BinaryData.fromBytes(Json.bytes(written)),
                true);
        AtomicReference<RunRecords.Stored> byB = new AtomicReference<>();
        Interleaving race = new Interleaving(Interleaving.request(HttpMethod.PUT, "/_run.json", null),
                () -> byB.set(b.runs.putRetention(run, retention("{'keepEvery':100}"))));

        RunRecords.Stored byA = instanceA(race).putRetention(run, retention("{'keepLast':3}"));

        assertTrue(race.fired());
        assertEquals(412, race.statuses().get(0), "A's replace was on a stale read: " + race.statuses());
        assertEquals(retention("{'keepEvery':100}"), byB.get().retention());
        assertEquals(retention("{'keepLast':3}"), byA.retention());
        RunRecords.Stored stored = b.runs.read(run).orElseThrow();
        assertEquals(retention("{'keepLast':3}"), stored.retention());
        assertEquals("team-x", stored.raw().get("owner").asText());
        assertEquals(T_B, stored.createdAt());
        assertEquals(run.value(), stored.raw().get("runId").asText());
    }

    @Test
    void aRunWithoutARecordReadsAsNone() {
        assertTrue(a.runs.read(RunId.of("never-seen")).isEmpty());
    }

    @Test
    void anUnreadableRecordIsReplacedWholeByTheNextPut() {
        RunId run = RunId.of("unreadable");
        a.storage.container().getBlobClient(RunRecords.blobName(run)).upload(BinaryData.fromString("{not json"), true);
        RunRecords.Stored read = a.runs.read(run).orElseThrow();
        assertEquals(Json.MAPPER.createObjectNode(), read.retention());
        assertEquals("is not valid JSON", read.problem());

        Instant now = clockA.instant();
        RunRecords.Stored put = a.runs.putRetention(run, retention("{'keepLast':2}"));

        assertEquals(retention("{'keepLast':2}"), put.retention());
        assertEquals(null, put.problem());
        ObjectNode stored = (ObjectNode) Json.parse(raw(run), "record");
        assertEquals(run.value(), stored.get("runId").asText());
        assertEquals(now, Instant.parse(stored.get("createdAt").asText()));
    }

    @Test
    void listRunsAnswersTheRunsInTheContainer() {
        RunId run = RunId.of("listed");
        a.runs.ensureExists(run);
        assertTrue(b.runs.listRuns().contains(run), b.runs.listRuns().toString());
    }
}
