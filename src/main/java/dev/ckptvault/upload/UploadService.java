package dev.ckptvault.upload;

import dev.ckptvault.commit.CheckpointIndex;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.run.RunRecords;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.time.Instant;
import java.util.function.BiConsumer;
import java.util.function.Function;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.storage.SasSigner;

/** Issues write URLs for a rank's files after checking that the checkpoint accepts them. */
public final class UploadService {
    /** Backdated start absorbs clock skew between the app, storage and the trainer. */
    public static final Duration CLOCK_SKEW = Duration.ofMinutes(5);

    private final WriteGate gate;
    private final RunRecords runs;
    private final SasSigner signer;
    private final Clock clock;
    private final Duration defaultLifetime;
    private final Duration maxLifetime;
    private final Function<RunId, Duration> incompleteTtl;

    private final CheckpointIndex index;
    private final BiConsumer<List<String>, Instant> discard;

    /**
     * @param discard deletes the named blobs last written before the given time (storage's clock),
     *                conditionally in storage, never one written at or after it
     */
    public UploadService(WriteGate gate, RunRecords runs, SasSigner signer, CheckpointIndex index,
                         BiConsumer<List<String>, Instant> discard, Clock clock,
                         Duration defaultLifetime, Duration maxLifetime, Function<RunId, Duration> incompleteTtl) {
        this.index = index;
        this.discard = discard;
        this.gate = gate;
        this.runs = runs;
        this.signer = signer;
        this.clock = clock;
        this.defaultLifetime = defaultLifetime;
        this.maxLifetime = maxLifetime;
        this.incompleteTtl = incompleteTtl;
    }

    public UploadAnswer issue(CheckpointId id, UploadRequest request) {
        return issue(id, request, Instant.MAX);
    }

    /** @param notAfter when the caller's credential expires: no URL issued here outlives it */
    public UploadAnswer issue(CheckpointId id, UploadRequest request, Instant notAfter) {
        List<RelativePath> paths = new ArrayList<>(request.files().size());
        List<String> blobNames = new ArrayList<>(request.files().size());
        for (int i = 0; i < request.files().size(); i++) {
            RelativePath path = request.files().get(i).path();
            paths.add(path);
            blobNames.add(id.fileBlob(path, "files[" + i + "].path"));
        }
        runs.ensureExists(id.run());
        WriteGate.Admitted admitted = gate.admit(id, paths, incompleteTtl.apply(id.run()));
        if (admitted.admission() != WriteGate.Admission.FRESH && admitted.attemptStart() != null) {
            // What an earlier attempt left under these paths goes (the commit check refuses it anyway);
            // a file of the current attempt stays, even when a renewal asks for its path again: a
            // client may renew while its last write is still in flight.
            discard.accept(blobNames, admitted.attemptStart());
        }
        if (admitted.admission().startedAttempt()) {
            index.refresh(id);
        }

        Duration lifetime = request.lifetime().orElse(defaultLifetime);
        if (lifetime.compareTo(maxLifetime) > 0) {
            lifetime = maxLifetime;
        }
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC)
                .truncatedTo(ChronoUnit.SECONDS);
        OffsetDateTime expiry = SasSigner.cappedExpiry(now.plus(lifetime), notAfter);
        List<String> urls = signer.sign(blobNames, SasSigner.Access.WRITE, now.minus(CLOCK_SKEW), expiry);
        List<UploadAnswer.Upload> uploads = new ArrayList<>(paths.size());
        for (int i = 0; i < paths.size(); i++) {
            uploads.add(new UploadAnswer.Upload(paths.get(i).value(), blobNames.get(i), urls.get(i)));
        }
        return new UploadAnswer(id.run().value(), id.step().value(), expiry, uploads);
    }
}
