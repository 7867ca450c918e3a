package dev.ckptvault.checkpoint;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.layout.CheckpointId;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Derivation#derive}: listing x manifest x commit record -> state, one row per row of the
 * design's state table, then the details that decide whether a checkpoint may commit.
 */
class DerivationTest {
    static final CheckpointId ID = CheckpointId.of("run-1", 1200);
    static final Instant T0 = Instant.parse("2024-05-01T12:00:00Z");
    static final Duration TTL = Duration.ofMinutes(60);
    static final Instant FRESH = T0.plus(Duration.ofMinutes(10));
    static final Instant STALE = T0.plus(Duration.ofHours(3));

    static final String A = "rank-0/model.bin";
    static final String B = "rank-1/model.bin";
    static final String C = "rank-2/stray.bin";
    static final String EA = "\"0x8DC0000000000A\"";
    static final String EB = "\"0x8DC0000000000B\"";
    static final String EC = "\"0x8DC0000000000C\"";

    static Instant at(int minutes) {
        return T0.plus(Duration.ofMinutes(minutes));
    }

    /** A listing of {@link #ID}'s prefix, built blob by blob. */
    static final class Listing {
        private final Map<String, StoredBlob> files = new LinkedHashMap<>();
        private StoredBlob manifest;
        private StoredBlob commit;
        private StoredBlob tombstone;
        private StoredBlob attempt;

        Listing file(String path, long size, String etag, Instant written) {
            return file(path, size, etag, written, false);
        }

        Listing file(String path, long size, String etag, Instant written, boolean cool) {
            files.put(path, new StoredBlob(ID.prefix() + path, size, etag, written, written, Map.of(), cool, false));
            return this;
        }

        Listing put(String path, StoredBlob blob) {
            files.put(path, blob);
            return this;
        }

        Listing attempt(Instant at) {
            attempt = record(ID.attemptBlob(), at, Map.of());
            return this;
        }

        Listing manifest(Instant at) {
            manifest = record(ID.manifestBlob(), at, Map.of());
            return this;
        }

        Listing commit(Instant at, Map<String, String> metadata) {
            commit = record(ID.commitBlob(), at, metadata);
            return this;
        }

        Listing commit(Instant at) {
            return commit(at, Map.of(CommitRecord.PINNED_METADATA, "false"));
        }

        Listing tombstone(Instant at) {
            tombstone = record(ID.tombstoneBlob(), at, Map.of());
            return this;
        }

        StepListing build() {
            return new StepListing(ID, files, manifest, commit, tombstone, attempt);
        }

        private static StoredBlob record(String name, Instant at, Map<String, String> metadata) {
            return new StoredBlob(name, 100, "\"0xRECORD" + name.hashCode() + "\"", at, at, metadata, false, false);
        }
    }

    static Listing listing() {
        return new Listing();
    }

    /** Attempt at T0, both files written one minute later as the manifest means them. */
    static Listing uploaded() {
        return listing().attempt(T0).file(A, 10, EA, at(1)).file(B, 20, EB, at(1));
    }

    static Manifest manifest(Manifest.File... files) {
        return new Manifest(ID.step().value(), List.of(files), Map.of("val_loss", 1.25), Map.of());
    }

    static Manifest.File mf(String path, long size, String etag) {
        return new Manifest.File(path, size, etag, null);
    }

    static final Manifest BOTH = manifest(mf(A, 10, EA), mf(B, 20, EB));

    static CommitRecord record(CommitRecord.File... files) {
        return new CommitRecord(ID.run().value(), ID.step().value(), at(3), "lease-1", List.of(files),
                Map.of("val_loss", 1.25), Map.of(), "record-1");
    }

    static CommitRecord.File rf(String path, long size, String etag) {
        return new CommitRecord.File(path, size, etag, at(1), null, null);
    }

    static final CommitRecord RECORD = record(rf(A, 10, EA), rf(B, 20, EB));

    static Derivation.Result derive(StepListing l, Optional<Manifest> m, CommitRecord r, Instant now) {
        return Derivation.derive(l, m, r, now, TTL);
    }

    /**
     * One row of the state table.
     *
     * @param manifest null: no manifest blob; empty: an invalid one
     */
    record Row(String name, StepListing listing, Optional<Manifest> manifest, CommitRecord record, Instant now,
               CheckpointState state, boolean ready, List<String> missing, List<String> extra) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Row row(String name, Listing l, Optional<Manifest> m, CommitRecord r, Instant now, CheckpointState state,
                   boolean ready, List<String> missing, List<String> extra) {
        return new Row(name, l.build(), m, r, now, state, ready, missing, extra);
    }

    static Stream<Row> stateTable() {
        Optional<Manifest> none = null;
        Optional<Manifest> both = Optional.of(BOTH);
        return Stream.of(
                row("UPLOADING: files, no manifest, recent activity",
                        uploaded(), none, null, FRESH, CheckpointState.UPLOADING, false, List.of(), List.of()),
                row("UPLOADING: URLs issued, no file written yet",
                        listing().attempt(T0), none, null, FRESH, CheckpointState.UPLOADING, false, List.of(),
                        List.of()),
                row("ABANDONED from UPLOADING: no manifest, last activity older than the TTL",
                        uploaded(), none, null, STALE, CheckpointState.ABANDONED, false, List.of(), List.of()),
                row("COMMITTING: manifest, a listed file not written yet",
                        listing().attempt(T0).file(A, 10, EA, at(1)).manifest(at(2)), both, null, FRESH,
                        CheckpointState.COMMITTING, false, List.of(B), List.of()),
                row("COMMITTING and ready: manifest, every listed file in the meant version",
                        uploaded().manifest(at(2)), both, null, FRESH, CheckpointState.COMMITTING, true, List.of(),
                        List.of()),
                row("ABANDONED from COMMITTING: a listed file still missing after the TTL",
                        listing().attempt(T0).file(A, 10, EA, at(1)).manifest(at(2)), both, null, STALE,
                        CheckpointState.ABANDONED, false, List.of(B), List.of()),
                row("a complete manifest past the TTL is still ready to commit",
                        uploaded().manifest(at(2)), both, null, STALE, CheckpointState.COMMITTING, true, List.of(),
                        List.of()),
                row("FAILED: the manifest blob is not a valid manifest",
                        uploaded().manifest(at(2)), Optional.empty(), null, FRESH, CheckpointState.FAILED, false,
                        List.of(), List.of()),
                row("FAILED is not ABANDONED after the TTL",
                        uploaded().manifest(at(2)), Optional.empty(), null, STALE, CheckpointState.FAILED, false,
                        List.of(), List.of()),
                row("COMMITTED: commit record, every file as recorded",
                        uploaded().manifest(at(2)).commit(at(3)), both, RECORD, FRESH, CheckpointState.COMMITTED,
                        false, List.of(), List.of()),
                row("COMMITTED does not age into ABANDONED",
                        uploaded().manifest(at(2)).commit(at(3)), both, RECORD, STALE, CheckpointState.COMMITTED,
                        false, List.of(), List.of()),
                row("TAMPERED: a recorded file was overwritten (new eTag)",
                        listing().attempt(T0).file(A, 10, "\"0xOTHER\"", at(9)).file(B, 20, EB, at(1))
                                .manifest(at(2)).commit(at(3)), both, RECORD, FRESH, CheckpointState.TAMPERED, false,
                        List.of(), List.of()),
                row("TAMPERED: a recorded file changed size",
                        listing().attempt(T0).file(A, 11, EA, at(1)).file(B, 20, EB, at(1)).manifest(at(2))
                                .commit(at(3)), both, RECORD, FRESH, CheckpointState.TAMPERED, false, List.of(),
                        List.of()),
                row("TAMPERED: a recorded file vanished",
                        listing().attempt(T0).file(B, 20, EB, at(1)).manifest(at(2)).commit(at(3)), both, RECORD,
                        FRESH, CheckpointState.TAMPERED, false, List.of(), List.of()),
                row("DELETING: tombstone, files still present",
                        uploaded().manifest(at(2)).commit(at(3)).tombstone(at(4)), both, RECORD, FRESH,
                        CheckpointState.DELETING, false, List.of(), List.of()),
                row("DELETING: tombstone, only the commit record left",
                        listing().commit(at(3)).tombstone(at(4)), none, RECORD, FRESH, CheckpointState.DELETING,
                        false, List.of(), List.of()),
                row("DELETING: tombstone over an uncommitted attempt",
                        uploaded().tombstone(at(4)), none, null, STALE, CheckpointState.DELETING, false, List.of(),
                        List.of()),
                row("DELETED: tombstone only",
                        listing().tombstone(at(4)), none, null, FRESH, CheckpointState.DELETED, false, List.of(),
                        List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stateTable")
    void derivesTheStateOfTheDesignTable(Row row) {
        Derivation.Result r = derive(row.listing(), row.manifest(), row.record(), row.now());
        Checkpoint c = r.checkpoint();
        assertEquals(row.state(), c.state());
        assertEquals(row.ready(), r.ready(), "ready");
        assertEquals(row.missing(), c.missing(), "missing");
        assertEquals(row.extra(), c.extra(), "extra");
        assertEquals(ID.run().value(), c.runId());
        assertEquals(ID.step().value(), c.step());
    }

    // ---- which stored version a manifest entry means --------------------------------------------

    record Meant(String name, StoredBlob stored, boolean meant) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Meant meant(String name, long size, String etag, Instant written, boolean meant) {
        return new Meant(name, new StoredBlob(ID.prefix() + A, size, etag, written, written, Map.of(), false, false),
                meant);
    }

    /** The manifest means A at size 10 with eTag EA; the attempt started at T0 + 5 min. */
    static Stream<Meant> versions() {
        return Stream.of(
                meant("same size and eTag, written after the attempt started", 10, EA, at(6), true),
                meant("written in the same instant the attempt started", 10, EA, at(5), true),
                meant("a file older than the attempt is never meant (leftover of a crashed attempt)", 10, EA,
                        at(4), false),
                meant("size differs", 11, EA, at(6), false),
                meant("eTag differs", 10, EB, at(6), false),
                meant("eTag differs only in case", 10, EA.toLowerCase(), at(6), false));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("versions")
    void aManifestEntryCountsOnlyForTheVersionItMeans(Meant row) {
        StepListing l = listing().attempt(at(5)).put(A, row.stored()).manifest(at(7)).build();
        Derivation.Result r = derive(l, Optional.of(manifest(mf(A, 10, EA))), null, at(8));
        assertEquals(row.meant(), r.ready(), "ready");
        assertEquals(row.meant() ? List.of() : List.of(A), r.checkpoint().missing());
        assertEquals(row.meant() ? List.of(A) : List.of(),
                r.checkpoint().files().stream().map(FileEntry::path).toList(), "files present in the meant version");
        assertEquals(CheckpointState.COMMITTING, r.checkpoint().state());
    }

    @Test
    void aFileOlderThanTheAttemptIsNeverMeantEvenWhenEveryOtherFileIs() {
        // A crashed attempt left A behind with the same size and eTag; a new attempt started after it.
        StepListing l = listing().attempt(at(30)).file(A, 10, EA, at(1)).file(B, 20, EB, at(31)).manifest(at(32))
                .build();
        Derivation.Result r = derive(l, Optional.of(BOTH), null, at(33));
        assertFalse(r.ready());
        assertEquals(List.of(A), r.checkpoint().missing());
        assertEquals(CheckpointState.COMMITTING, r.checkpoint().state());
    }

    @Test
    void readyIsTrueExactlyWhenTheLastListedFileArrives() {
        Listing l = listing().attempt(T0).manifest(at(1));
        assertFalse(derive(l.build(), Optional.of(BOTH), null, FRESH).ready(), "no file yet");
        l.file(A, 10, EA, at(2));
        Derivation.Result one = derive(l.build(), Optional.of(BOTH), null, FRESH);
        assertFalse(one.ready(), "one of two");
        assertEquals(List.of(B), one.checkpoint().missing());
        l.file(B, 20, EB, at(3));
        Derivation.Result two = derive(l.build(), Optional.of(BOTH), null, FRESH);
        assertTrue(two.ready(), "both");
        assertEquals(List.of(), two.checkpoint().missing());
        assertEquals(30, two.checkpoint().bytes());
    }

    @Test
    void filesTheManifestDoesNotListAreExtraAndDoNotBlockTheCommit() {
        StepListing l = uploaded().file(C, 5, EC, at(1)).manifest(at(2)).build();
        Derivation.Result r = derive(l, Optional.of(BOTH), null, FRESH);
        assertTrue(r.ready());
        assertEquals(List.of(C), r.checkpoint().extra());
        assertEquals(List.of(A, B), r.checkpoint().files().stream().map(FileEntry::path).toList());
        assertEquals(30, r.checkpoint().bytes(), "extra files are not part of the checkpoint's bytes");
    }

    @Test
    void filesTheCommitRecordDoesNotListAreExtraAndDoNotTamper() {
        StepListing l = uploaded().file(C, 5, EC, at(9)).manifest(at(2)).commit(at(3)).build();
        Checkpoint c = derive(l, Optional.of(BOTH), RECORD, FRESH).checkpoint();
        assertEquals(CheckpointState.COMMITTED, c.state());
        assertEquals(List.of(C), c.extra());
        assertEquals(30, c.bytes());
    }

    @Test
    void aCommittedCheckpointShowsTheRecordedFilesMetricsAndCommitTime() {
        CommitRecord r = record(new CommitRecord.File(A, 10, EA, at(1), "ab".repeat(32), null), rf(B, 20, EB));
        Checkpoint c = derive(uploaded().manifest(at(2)).commit(at(3)).build(), Optional.of(BOTH), r, FRESH)
                .checkpoint();
        assertEquals(List.of(new FileEntry(A, 10, EA, "ab".repeat(32), null), new FileEntry(B, 20, EB, null, null)),
                c.files());
        assertEquals(Map.of("val_loss", 1.25), c.metrics());
        assertEquals(at(3), c.committedAt());
        assertEquals(T0, c.createdAt(), "created when the attempt started");
    }

    @Test
    void anUncommittedCheckpointHasNoCommitTime() {
        Checkpoint c = derive(uploaded().manifest(at(2)).build(), Optional.of(BOTH), null, FRESH).checkpoint();
        assertNull(c.committedAt());
        assertEquals(Map.of("val_loss", 1.25), c.metrics(), "a manifest's metrics show before the commit");
    }

    // ---- pin, tier, last activity -----------------------------------------------------------

    static Stream<Arguments> pins() {
        return Stream.of(
                Arguments.of("pinned=true", Map.of("pinned", "true"), true),
                Arguments.of("pinned=TRUE", Map.of("pinned", "TRUE"), true),
                Arguments.of("pinned=false", Map.of("pinned", "false"), false),
                Arguments.of("no pinned entry", Map.of(), false));
    }

    @ParameterizedTest(name = "commit record metadata {0}")
    @MethodSource("pins")
    void pinnedComesFromTheCommitRecordsMetadata(String name, Map<String, String> metadata, boolean pinned) {
        StepListing l = uploaded().manifest(at(2)).commit(at(3), metadata).build();
        assertEquals(pinned, derive(l, Optional.of(BOTH), RECORD, FRESH).checkpoint().pinned(), "committed");
        StepListing deleting = uploaded().commit(at(3), metadata).tombstone(at(4)).build();
        assertEquals(pinned, derive(deleting, null, RECORD, FRESH).checkpoint().pinned(), "deleting");
    }

    @Test
    void withoutACommitRecordNothingIsPinned() {
        assertFalse(derive(uploaded().manifest(at(2)).build(), Optional.of(BOTH), null, FRESH).checkpoint().pinned());
        assertFalse(derive(uploaded().build(), null, null, FRESH).checkpoint().pinned());
    }

    @Test
    void theTierIsCoolOnlyWhenEveryFileIsCool() {
        Listing allCool = listing().attempt(T0).file(A, 10, EA, at(1), true).file(B, 20, EB, at(1), true)
                .manifest(at(2)).commit(at(3));
        Listing oneHot = listing().attempt(T0).file(A, 10, EA, at(1), true).file(B, 20, EB, at(1), false)
                .manifest(at(2)).commit(at(3));
        Listing noFiles = listing().commit(at(3)).tombstone(at(4));
        assertEquals("cool", derive(allCool.build(), Optional.of(BOTH), RECORD, FRESH).checkpoint().tier());
        assertEquals("hot", derive(oneHot.build(), Optional.of(BOTH), RECORD, FRESH).checkpoint().tier());
        assertEquals("hot", derive(noFiles.build(), null, RECORD, FRESH).checkpoint().tier());
    }

    record Activity(String name, Listing listing, Instant expected) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Activity> activities() {
        return Stream.of(
                new Activity("the attempt is newest", listing().file(A, 10, EA, at(1)).attempt(at(5)), at(5)),
                new Activity("a file is newest", listing().attempt(T0).file(A, 10, EA, at(1)).file(B, 20, EB, at(7)),
                        at(7)),
                new Activity("the manifest is newest",
                        listing().attempt(T0).file(A, 10, EA, at(1)).manifest(at(8)), at(8)),
                new Activity("a later commit record is not activity",
                        uploaded().manifest(at(2)).commit(at(50)), at(2)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("activities")
    void lastActivityIsTheNewestOfAttemptManifestAndFiles(Activity a) {
        assertEquals(a.expected(), derive(a.listing().build(), null, null, FRESH).checkpoint().lastActivityAt());
    }

    @Test
    void aRecentManifestKeepsOldFilesFromBeingAbandoned() {
        Instant now = at(100);
        StepListing l = listing().attempt(T0).file(A, 10, EA, at(1)).manifest(at(95)).build();
        Checkpoint c = derive(l, Optional.of(BOTH), null, now).checkpoint();
        assertEquals(CheckpointState.COMMITTING, c.state());
        assertEquals(at(95), c.lastActivityAt());
    }

    @Test
    void theTtlIsMeasuredFromTheLastActivityNotFromTheStart() {
        StepListing l = listing().attempt(T0).file(A, 10, EA, at(30)).build();
        assertEquals(CheckpointState.UPLOADING, derive(l, null, null, at(90)).checkpoint().state(),
                "exactly one TTL after the last write");
        assertEquals(CheckpointState.ABANDONED, derive(l, null, null, at(91)).checkpoint().state());
    }

    @Test
    void aDeletedCheckpointKeepsWhatItsRecordSaid() {
        Checkpoint c = derive(listing().commit(at(3)).tombstone(at(4)).build(), null, RECORD, FRESH).checkpoint();
        assertEquals(at(3), c.committedAt());
        assertEquals(Map.of("val_loss", 1.25), c.metrics());
        assertNotNull(c.lastActivityAt());
    }

    @Test
    void presentFilesOfAnUploadingCheckpointAreItsFiles() {
        Checkpoint c = derive(uploaded().build(), null, null, FRESH).checkpoint();
        assertEquals(List.of(new FileEntry(A, 10, EA, null, null), new FileEntry(B, 20, EB, null, null)), c.files());
        assertEquals(30, c.bytes());
        assertEquals("hot", c.tier());
    }
}
