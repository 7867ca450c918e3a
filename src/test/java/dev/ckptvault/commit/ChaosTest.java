package dev.ckptvault.commit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EventSamples;
import dev.ckptvault.testing.Trainer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.layout.Step;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.checkpoint.StoredBlob;

/**
 * Seeded random histories of multi-rank checkpoint series (crashed attempts re-written at the
 * same step, checkpoints never finished, manifests tried before their shards exist and refused,
 * manifests naming the wrong version). The events of each history are delivered three ways into three separate
 * indexes: shuffled with every event 1-3 times from several threads, once in order, and not at
 * all (reindex). All three must agree, and no incomplete or mixed-attempt checkpoint may be
 * COMMITTED or returned as latest.
 */
class ChaosTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();
    static final int HISTORIES = Integer.getInteger("chaos.histories", 16);

    static TestApp history;
    static TestApp shuffled;
    static TestApp ordered;
    static TestApp rebuilt;
    static ExecutorService pool;

    @BeforeAll
    static void setUp() {
        Clock clock = Clock.systemUTC();
        history = AZURITE.app(Map.of("CKPT_INDEX_TABLE", "chaoshistory"), clock);
        shuffled = AZURITE.app(Map.of("CKPT_INDEX_TABLE", "chaosshuffled"), clock);
        ordered = AZURITE.app(Map.of("CKPT_INDEX_TABLE", "chaosordered"), clock);
        rebuilt = AZURITE.app(Map.of("CKPT_INDEX_TABLE", "chaosrebuilt"), clock);
        pool = Executors.newFixedThreadPool(4);
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
    }

    /** Turns storage changes into the events Event Grid would send, by diffing listings. */
    static final class Recorder {
        final String prefix;
        final Map<String, String> seen = new HashMap<>();
        final List<String> events = new ArrayList<>();
        final String account = history.storage.blobService().getAccountName();

        Recorder(String run) {
            this.prefix = run + "/";
        }

        void capture() {
            Map<String, StoredBlob> now = new TreeMap<>();
            for (StoredBlob b : history.store.list(prefix, false)) {
                now.put(b.name(), b);
            }
            for (Map.Entry<String, StoredBlob> e : now.entrySet()) {
                String etag = e.getValue().etag();
                if (!etag.equals(seen.get(e.getKey()))) {
                    EventSamples.Schema schema = events.size() % 2 == 0
                            ? EventSamples.Schema.EVENT_GRID : EventSamples.Schema.CLOUD_EVENTS;
                    events.add(EventSamples.created(schema, account, history.config.container(), e.getKey(),
                            etag, e.getValue().size(),
                            EventSamples.nextSequencer()));
                    seen.put(e.getKey(), etag);
                }
            }
            for (String gone : new ArrayList<>(seen.keySet())) {
                if (!now.containsKey(gone)) {
                    events.add(EventSamples.deleted(EventSamples.Schema.EVENT_GRID, account,
                            history.config.container(), gone, EventSamples.nextSequencer()));
                    seen.remove(gone);
                }
            }
        }
    }

    enum Scenario { NORMAL, MANIFEST_FIRST, CRASH_AND_RETRY, NEVER_FINISHED, WRONG_VERSION }

    @Test
    void everyDeliveryOrderAndReindexAgreeAndNothingIncompleteIsCommitted() throws Exception {
        int checkpoints = 0;
        for (int seed = 0; seed < HISTORIES; seed++) {
            checkpoints += runHistory(seed);
        }
        System.out.println("chaos: " + HISTORIES + " histories, " + checkpoints + " checkpoints, all agree");
    }

    private int runHistory(int seed) throws Exception {
        Random rnd = new Random(seed);
        String run = "chaos-" + seed;
        Trainer t = new Trainer(history);
        Recorder rec = new Recorder(run);
        Map<Long, Map<String, String>> intended = new TreeMap<>();
        Map<Long, Scenario> scenarios = new TreeMap<>();
        int steps = 2 + rnd.nextInt(3);
        for (int i = 0; i < steps; i++) {
            long step = (i + 1) * 10L;
            Scenario sc = Scenario.values()[rnd.nextInt(Scenario.values().length)];
            scenarios.put(step, sc);
            int ranks = 2 + rnd.nextInt(3);
            Map<String, byte[]> files = new LinkedHashMap<>();
            for (int r = 0; r < ranks; r++) {
                for (int k = 0; k <= rnd.nextInt(2); k++) {
                    files.put("rank-" + r + "/f" + k + ".bin", bytes("s" + step + "r" + r + "k" + k + "-v1-" + seed));
                }
            }
            Map<String, Long> sizes = new LinkedHashMap<>();
            files.forEach((p, b) -> sizes.put(p, (long) b.length));
            switch (sc) {
                case NORMAL -> {
                    Map<String, String> etags = writeEach(t, rec, run, step, files);
                    t.commit(run, step, sizes, etags, Map.of("loss", (double) step));
                    rec.capture();
                    intended.put(step, etags);
                }
                case MANIFEST_FIRST -> {
                    List<String> paths = new ArrayList<>(files.keySet());
                    Map<String, byte[]> first = new LinkedHashMap<>();
                    Map<String, byte[]> rest = new LinkedHashMap<>();
                    for (int j = 0; j < paths.size(); j++) {
                        (j % 2 == 0 ? first : rest).put(paths.get(j), files.get(paths.get(j)));
                    }
                    Map<String, String> etags = new LinkedHashMap<>(writeEach(t, rec, run, step, first));
                    t.uploads(run, step, List.copyOf(rest.keySet()));
                    rec.capture();
                    // A manifest before its shards names files without eTags: refused, nothing stored.
                    Trainer.Call early = t.commit(run, step, sizes, etags, Map.of("loss", (double) step));
                    assertEquals(400, early.status(), early.text());
                    etags.putAll(writeEach(t, rec, run, step, rest));
                    t.commit(run, step, sizes, etags, Map.of("loss", (double) step));
                    rec.capture();
                    intended.put(step, etags);
                }
                case CRASH_AND_RETRY -> {
                    Map<String, byte[]> partial = new LinkedHashMap<>();
                    files.forEach((p, b) -> {
                        if (rnd.nextBoolean()) {
                            partial.put(p, b);
                        }
                    });
                    writeEach(t, rec, run, step, partial);
                    Map<String, byte[]> retry = new LinkedHashMap<>();
                    // Same sizes, other bytes: only the attempt tells them apart.
                    files.forEach((p, b) -> retry.put(p, bytes(new String(b, StandardCharsets.UTF_8)
                            .replace("-v1-", "-v2-"))));
                    Map<String, String> etags = writeEach(t, rec, run, step, retry);
                    t.commit(run, step, sizes, etags, Map.of("loss", (double) step));
                    rec.capture();
                    intended.put(step, etags);
                }
                case NEVER_FINISHED -> writeEach(t, rec, run, step, files);
                case WRONG_VERSION -> {
                    Map<String, String> etags = new LinkedHashMap<>(writeEach(t, rec, run, step, files));
                    etags.put(etags.keySet().iterator().next(), "\"0x8D000000DEADBEE\"");
                    t.commit(run, step, sizes, etags, Map.of());
                    rec.capture();
                }
                default -> throw new IllegalStateException();
            }
        }

        List<String> events = rec.events;
        deliverShuffled(events, rnd);
        for (String e : events) {
            ordered.events.handle(e);
        }
        rebuilt.reindexer.reindex(new RunId(run));

        for (Map.Entry<Long, Scenario> e : scenarios.entrySet()) {
            CheckpointId id = new CheckpointId(new RunId(run), dev.ckptvault.layout.Step.of(e.getKey()));
            Checkpoint a = shuffled.sync.get(id).orElseThrow(() -> new AssertionError("shuffled lacks " + id));
            Checkpoint b = ordered.sync.get(id).orElseThrow(() -> new AssertionError("ordered lacks " + id));
            Checkpoint c = rebuilt.sync.get(id).orElseThrow(() -> new AssertionError("reindex lacks " + id));
            String where = "seed " + seed + " " + id + " " + e.getValue();
            assertSame(a, b, where + " shuffled vs ordered");
            assertSame(a, c, where + " shuffled vs reindex");
            if (a.state() == CheckpointState.COMMITTED) {
                Map<String, String> want = intended.get(e.getKey());
                assertTrue(want != null, where + ": committed without a complete attempt");
                Map<String, String> got = new TreeMap<>();
                a.files().forEach(f -> got.put(f.path(), f.etag()));
                Map<String, String> wantQuoted = new TreeMap<>();
                want.forEach((p, v) -> wantQuoted.put(p, v.startsWith("\"") ? v : "\"" + v + "\""));
                assertEquals(wantQuoted, got, where + ": committed files are exactly the final attempt's");
            }
            if (e.getValue() == Scenario.WRONG_VERSION || e.getValue() == Scenario.NEVER_FINISHED) {
                assertNotEquals(CheckpointState.COMMITTED, a.state(), where);
            } else {
                assertEquals(CheckpointState.COMMITTED, a.state(), where + ": a complete attempt commits");
            }
        }
        long expectLatest = intended.keySet().stream().mapToLong(Long::longValue).max().orElse(-1);
        for (TestApp ctx : List.of(shuffled, ordered, rebuilt)) {
            var latest = new Trainer(ctx).latest(run);
            if (expectLatest < 0) {
                assertEquals(404, latest.status());
            } else {
                assertEquals(expectLatest, latest.body().get("step").asLong(), "seed " + seed + " latest");
            }
        }
        return scenarios.size();
    }

    private static void assertSame(Checkpoint x, Checkpoint y, String where) {
        assertEquals(x.state(), y.state(), where + ": state");
        assertEquals(view(x.files()), view(y.files()), where + ": files");
        assertEquals(x.bytes(), y.bytes(), where + ": bytes");
        assertEquals(x.metrics(), y.metrics(), where + ": metrics");
        assertEquals(x.pinned(), y.pinned(), where + ": pinned");
    }

    private static List<String> view(List<FileEntry> files) {
        List<String> out = new ArrayList<>();
        files.forEach(f -> out.add(f.path() + "|" + f.size() + "|" + f.etag()));
        Collections.sort(out);
        return out;
    }

    private void deliverShuffled(List<String> events, Random rnd) throws Exception {
        List<String> deliveries = new ArrayList<>();
        for (String e : events) {
            for (int n = 1 + rnd.nextInt(3); n > 0; n--) {
                deliveries.add(e);
            }
        }
        Collections.shuffle(deliveries, rnd);
        List<Future<?>> futures = new ArrayList<>();
        int threads = 4;
        for (int th = 0; th < threads; th++) {
            final int me = th;
            futures.add(pool.submit(() -> {
                for (int i = me; i < deliveries.size(); i += threads) {
                    shuffled.events.handle(deliveries.get(i));
                }
            }));
        }
        for (Future<?> f : futures) {
            f.get();
        }
    }

    private static Map<String, String> writeEach(Trainer t, Recorder rec, String run, long step,
                                                 Map<String, byte[]> files) throws Exception {
        Map<String, String> etags = new LinkedHashMap<>();
        for (Map.Entry<String, byte[]> f : files.entrySet()) {
            etags.putAll(t.write(run, step, Map.of(f.getKey(), f.getValue())));
            rec.capture();
        }
        return etags;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
