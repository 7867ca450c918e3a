package dev.ckptvault.query;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The read side, from the index: pages, filters, latest, read URLs. */
class IndexQueriesTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    /** Steps 10, 20, 30 committed, 40 still uploading. */
    static final RunId RUN = RunId.of("queries");
    /** Only an uploading step. */
    static final RunId UNCOMMITTED = RunId.of("queries-uncommitted");

    static TestApp app;
    static IndexQueries queries;

    @BeforeAll
    static void aRunWithCommittedAndUploadingCheckpoints() {
        app = AZURITE.app();
        queries = app.queries;
        Trainer trainer = new Trainer(app);
        for (long step : new long[] {10, 20, 30}) {
            trainer.commitSmall(RUN.value(), step, 2, Map.of("loss", 1.0 / step));
        }
        trainer.writeSmall(RUN.value(), 40, 1);
        trainer.writeSmall(UNCOMMITTED.value(), 5, 1);
    }

    static List<Long> steps(IndexQueries.CheckpointList page) {
        return page.checkpoints().stream().map(Checkpoint::step).toList();
    }

    static String token(String decoded) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(decoded.getBytes(StandardCharsets.UTF_8));
    }

    // ---- list ----------------------------------------------------------------------------------

    @Test
    void pagesAreNewestFirstAndTheContinuationResumesWhereThePageEnded() {
        IndexQueries.CheckpointList first = queries.list(RUN, null, "3", null, false);
        assertEquals(List.of(40L, 30L, 20L), steps(first));
        assertNotNull(first.next());
        IndexQueries.CheckpointList second = queries.list(RUN, null, "3", first.next(), false);
        assertEquals(List.of(10L), steps(second));
        assertNull(second.next(), "the last page");
    }

    @Test
    void walkingEveryPageVisitsEachCheckpointOnce() {
        List<Long> seen = new ArrayList<>();
        String next = null;
        int pages = 0;
        do {
            IndexQueries.CheckpointList page = queries.list(RUN, null, "1", next, false);
            seen.addAll(steps(page));
            next = page.next();
            pages++;
        } while (next != null && pages < 10);
        assertEquals(List.of(40L, 30L, 20L, 10L), seen);
        assertEquals(4, pages);
    }

    @Test
    void aPageThatHoldsEverythingHasNoContinuation() {
        IndexQueries.CheckpointList all = queries.list(RUN, null, "4", null, false);
        assertEquals(List.of(40L, 30L, 20L, 10L), steps(all));
        assertNull(all.next());
        assertEquals(steps(all), steps(queries.list(RUN, null, null, null, false)), "default limit");
        assertEquals(steps(all), steps(queries.list(RUN, "", "", "", false)), "empty parameters are absent ones");
    }

    @Test
    void theStateFilterPagesToo() {
        IndexQueries.CheckpointList first = queries.list(RUN, "COMMITTED", "2", null, false);
        assertEquals(List.of(30L, 20L), steps(first));
        assertEquals(List.of(10L), steps(queries.list(RUN, "COMMITTED", "2", first.next(), false)));
        assertEquals(List.of(40L), steps(queries.list(RUN, "uploading", null, null, false)), "any case");
        assertEquals(List.of(), steps(queries.list(RUN, "TAMPERED", null, null, false)));
    }

    @Test
    void listedCheckpointsCarryNoReadUrls() {
        for (Checkpoint c : queries.list(RUN, null, null, null, true).checkpoints()) {
            assertTrue(c.files().stream().allMatch(f -> f.url() == null), c.toString());
        }
    }

    @ParameterizedTest(name = "continuation={0}")
    @ValueSource(strings = {"!!!", "bm90LWEtc3RlcA", "LTE", "MTAwMDAwMDAwMDAwMA"})
    void aBadContinuationIs400NamingIt(String continuation) {
        // Besides text that is not a token: tokens of "not-a-step", "-1" and 10^12, none of them a step.
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> queries.list(RUN, null, null, continuation, false));
        assertEquals("continuation", e.target());
    }

    @ParameterizedTest(name = "limit={0}")
    @ValueSource(strings = {"0", "-1", "1001", "ten", "1.5", "99999999999"})
    void aBadLimitIs400NamingIt(String limit) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> queries.list(RUN, null, limit, null, false));
        assertEquals("limit", e.target());
        assertEquals(ErrorCodes.INVALID_REQUEST, e.code());
    }

    @Test
    void theLargestLimitIsAccepted() {
        assertEquals(4, queries.list(RUN, null, "1000", null, false).checkpoints().size());
    }

    @ParameterizedTest(name = "state={0}")
    @ValueSource(strings = {"BOGUS", "COMMITTED,UPLOADING", "committed "})
    void aBadStateIs400NamingIt(String state) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> queries.list(RUN, state, null, null, false));
        assertEquals("state", e.target());
    }

    @Test
    void anUnknownRunIs404() {
        NotFoundException e = assertThrows(NotFoundException.class,
                () -> queries.list(RunId.of("no-such-run"), null, null, null, false));
        assertEquals(ErrorCodes.NOT_FOUND, e.code());
        assertEquals("runId", e.target());
    }

    // ---- latest and one checkpoint ----------------------------------------------------------------

    @Test
    void latestIsTheHighestCommittedStepNotANewerUpload() throws Exception {
        Checkpoint latest = queries.latest(RUN);
        assertEquals(30, latest.step());
        assertEquals(CheckpointState.COMMITTED, latest.state());
        assertEquals(Map.of("loss", 1.0 / 30), latest.metrics());
        assertEquals(2, latest.files().size());
        for (FileEntry f : latest.files()) {
            assertNotNull(f.url(), f.path());
            HttpResponse<byte[]> got = Http.getBytes(f.url());
            assertEquals(200, got.statusCode(), f.path());
            assertEquals("data of " + CheckpointId.of(RUN.value(), 30).prefix() + f.path(),
                    new String(got.body(), StandardCharsets.UTF_8));
            assertEquals(f.size(), got.body().length);
        }
    }

    @Test
    void latestWithoutACommittedCheckpointIs404NoCommittedCheckpoint() {
        for (RunId run : List.of(UNCOMMITTED, RunId.of("no-such-run"))) {
            NotFoundException e = assertThrows(NotFoundException.class, () -> queries.latest(run), run.value());
            assertEquals(ErrorCodes.NO_COMMITTED_CHECKPOINT, e.code());
        }
    }

    @Test
    void oneCheckpointHasReadUrlsOnlyWhenDownloadsAreAsked() {
        CheckpointId id = CheckpointId.of(RUN.value(), 20);
        Checkpoint plain = queries.get(id, false);
        assertEquals(2, plain.files().size());
        assertTrue(plain.files().stream().allMatch(f -> f.url() == null), plain.files().toString());
        Checkpoint withUrls = queries.get(id, true);
        assertEquals(plain.files().stream().map(FileEntry::path).toList(),
                withUrls.files().stream().map(FileEntry::path).toList());
        assertTrue(withUrls.files().stream().allMatch(f -> f.url() != null && f.url().contains("sp=r")),
                withUrls.files().toString());
        assertTrue(withUrls.files().stream().allMatch(f -> f.sha256() != null), "the manifest's sha256 for verifying");
    }

    @Test
    void anUnknownStepIs404NamingTheStep() {
        NotFoundException e = assertThrows(NotFoundException.class,
                () -> queries.get(CheckpointId.of(RUN.value(), 11), false));
        assertEquals(ErrorCodes.NOT_FOUND, e.code());
        assertEquals("step", e.target());
    }

    @Test
    void theRunSummaryCountsStatesAndNamesTheLatest() {
        Map<String, Object> run = queries.run(RUN);
        assertEquals(30L, run.get("latestCommittedStep"));
        assertEquals(Map.of(CheckpointState.COMMITTED, 3, CheckpointState.UPLOADING, 1), run.get("counts"));
    }
}
