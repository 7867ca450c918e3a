package dev.ckptvault.upload;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.util.BinaryData;
import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.checkpoint.Attempts;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.BlobName;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.testing.Trainer;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A step's first attempt is answered after one listing: its record (marked first, starting at the
 * epoch) and its index rows are written beside the request, and its ranks skip the discard of
 * earlier attempts' leftovers, of which there are none. A step committed or deleted without an
 * attempt record is no fresh step. A replacing attempt is not "first".
 */
class FirstAttemptTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    @Test
    void aFreshStepIsIndexedOpenAndItsRecordMarkedFirst() throws Exception {
        try (TestApp app = AZURITE.app()) {
            Trainer trainer = new Trainer(app);
            CheckpointId id = CheckpointId.of("first", 100);
            assertEquals(200, trainer.uploads("first", 100, List.of("rank-0/a.bin")).status());
            // Written beside the request; this instance's reads wait for it.
            Checkpoint row = app.sync.get(id).orElseThrow();
            var attempt = app.store.records(id).get(BlobName.Kind.ATTEMPT);
            assertTrue(Attempts.first(attempt), "the record of a step's first attempt says so");
            assertEquals(Instant.EPOCH, Attempts.start(attempt), "no file is too old for a first attempt");
            assertEquals(CheckpointState.UPLOADING, row.state());
            assertEquals(attempt.lastModified(), row.lastActivityAt(), "the row's activity is the record's write");
            assertTrue(app.index.open().contains(id), "a fresh step is open for the sweep and the local watcher");
            // The row is what a full refresh derives from storage.
            assertEquals(row, app.sync.refresh(id));
        }
    }

    @Test
    void joinersOfAFirstAttemptLeaveBlobsAloneAndTheTrainersWritesCommit() throws Exception {
        try (TestApp app = AZURITE.app()) {
            Trainer trainer = new Trainer(app);
            String run = "first-join";
            CheckpointId id = CheckpointId.of(run, 7);
            JsonNode a = trainer.uploads(run, 7, List.of("rank-0/a.bin")).body();
            // A blob under a path of the step, written out of band: no discard removes it, the rank's
            // write replaces it, and only that write can be committed.
            app.storage.container().getBlobClient(id.prefix() + "rank-1/b.bin").getBlockBlobClient()
                    .upload(BinaryData.fromString("out of band"), true);
            JsonNode b = trainer.uploads(run, 7, List.of("rank-1/b.bin")).body();
            assertTrue(app.storage.container().getBlobClient(id.prefix() + "rank-1/b.bin").exists());
            HttpResponse<String> pa = Http.putBlob(a.at("/uploads/0/url").asText(), "aaaa".getBytes());
            HttpResponse<String> pb = Http.putBlob(b.at("/uploads/0/url").asText(), "bbbbbb".getBytes());
            assertEquals(201, pa.statusCode());
            assertEquals(201, pb.statusCode());
            Trainer.Call commit = trainer.commit(run, 7, Map.of("rank-0/a.bin", 4L, "rank-1/b.bin", 6L),
                    Map.of("rank-0/a.bin", pa.headers().firstValue("ETag").orElseThrow(),
                            "rank-1/b.bin", pb.headers().firstValue("ETag").orElseThrow()), Map.of());
            assertEquals(200, commit.status(), commit.text());
            assertEquals("COMMITTED", commit.body().get("state").asText());
        }
    }

    @Test
    void aReplacingAttemptIsNotFirst() {
        MutableClock clock = new MutableClock(Instant.now());
        try (TestApp app = AZURITE.app(Map.of("CKPT_URL_DEFAULT_MINUTES", "60", "CKPT_URL_MAX_MINUTES", "60",
                "CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "60"), clock)) {
            Trainer trainer = new Trainer(app);
            CheckpointId id = CheckpointId.of("first-replaced", 1);
            assertEquals(200, trainer.uploads("first-replaced", 1, List.of("a.bin")).status());
            clock.advance(Duration.ofMinutes(61)); // abandoned
            assertEquals(200, trainer.uploads("first-replaced", 1, List.of("a.bin")).status());
            var attempt = app.store.records(id).get(BlobName.Kind.ATTEMPT);
            assertNull(attempt.metadataValue(Attempts.FIRST), "a replacing attempt may have leftovers to discard");
        }
    }

    @Test
    void aRowLeftFromBeforeIsBroughtInLineWhenAFreshStepOpens() {
        try (TestApp app = AZURITE.app()) {
            Trainer trainer = new Trainer(app);
            CheckpointId id = CheckpointId.of("first-stale", 3);
            Instant t = Instant.now();
            // A row that no blob backs (e.g. the index of an earlier container).
            assertTrue(app.index.putCheckpoint(new Checkpoint("first-stale", 3, CheckpointState.DELETED, "hot",
                    List.of(), List.of(), List.of(), 0, Map.of(), false, t, t, t), null, null));
            assertEquals(200, trainer.uploads("first-stale", 3, List.of("a.bin")).status());
            assertEquals(CheckpointState.UPLOADING, app.sync.get(id).orElseThrow().state());
            assertTrue(app.index.open().contains(id));
        }
    }

    @Test
    void aStepCommittedWithoutAnAttemptRecordRefusesUploadsAndKeepsNone() throws Exception {
        String run = "first-oob";
        CheckpointId id = CheckpointId.of(run, 2);
        try (TestApp writer = AZURITE.app()) {
            // Files written out of band (the account key), then committed: no uploads call, no attempt record.
            String etag = writer.storage.container().getBlobClient(id.prefix() + "a.bin").getBlockBlobClient()
                    .upload(BinaryData.fromString("aaaa"), true).getETag();
            Checkpoint c = writer.commits.commit(id, dev.ckptvault.json.Json.parse("{\"step\":2,\"files\":[{\"path\":"
                    + "\"a.bin\",\"size\":4,\"etag\":" + dev.ckptvault.json.Json.write(etag) + "}]}", "manifest"));
            assertEquals(CheckpointState.COMMITTED, c.state());
        }
        // The listing shows the commit record: no attempt record is written.
        try (TestApp app = AZURITE.app()) {
            Trainer.Call r = new Trainer(app).uploads(run, 2, List.of("b.bin"));
            assertEquals(409, r.status(), r.text());
            assertEquals("CheckpointCommitted", r.body().at("/error/code").asText());
            assertNull(app.store.records(id).get(BlobName.Kind.ATTEMPT), "no attempt record left on a committed step");
            assertEquals(CheckpointState.COMMITTED, app.sync.get(id).orElseThrow().state());
            assertEquals(CheckpointState.COMMITTED, app.sync.refresh(id).state());
            assertEquals(2, app.queries.latest(new dev.ckptvault.layout.RunId(run)).step());
        }
    }

    @Test
    void aDeletedStepIsReopenedByAnInstanceThatKnowsNothingOfIt() throws Exception {
        String run = "first-deleted";
        CheckpointId id = CheckpointId.of(run, 4);
        try (TestApp writer = AZURITE.app()) {
            Trainer trainer = new Trainer(writer);
            trainer.commitSmall(run, 4, 2, Map.of());
            trainer.commitSmall(run, 5, 1, Map.of());
            Checkpoint c = writer.sync.refresh(id);
            assertEquals(dev.ckptvault.lifecycle.RetentionEnforcer.Outcome.DELETED,
                    writer.enforcer.delete(c, "test", true).outcome());
            assertEquals(List.of(id.tombstoneBlob()), trainer.blobs(id.prefix()), "DELETED: the tombstone alone");
        }
        try (TestApp app = AZURITE.app()) {
            Trainer.Call r = new Trainer(app).uploads(run, 4, List.of("rank-0/shard.bin"));
            assertEquals(200, r.status(), r.text());
            var attempt = app.store.records(id).get(BlobName.Kind.ATTEMPT);
            assertTrue(attempt != null && !Attempts.first(attempt), "a reopened step's attempt is not its first");
            assertNull(app.store.records(id).get(BlobName.Kind.TOMBSTONE));
            assertEquals(CheckpointState.UPLOADING, app.sync.refresh(id).state());
        }
    }
}
