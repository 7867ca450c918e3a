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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
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
    private final Executor signing;

    /**
     * @param discard deletes the named blobs last written before the given time (storage's clock),
     *                conditionally in storage, never one written at or after it
     * @param signing runs the signing of a request's URLs while the request waits on storage, and
     *                the opening of a step's first attempt (its record and index rows) beside the request
     */
    public UploadService(WriteGate gate, RunRecords runs, SasSigner signer, CheckpointIndex index,
                         BiConsumer<List<String>, Instant> discard, Clock clock,
                         Duration defaultLifetime, Duration maxLifetime, Function<RunId, Duration> incompleteTtl,
                         Executor signing) {
        this.signing = signing;
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

    /**
     * Signing is pure CPU and needs nothing from storage, so it runs on another thread while this
     * one waits on the write gate's round trips; URLs of a refused request are dropped unseen.
     *
     * @param notAfter when the caller's credential expires: no URL issued here outlives it
     */
    public UploadAnswer issue(CheckpointId id, UploadRequest request, Instant notAfter) {
        List<RelativePath> paths = new ArrayList<>(request.files().size());
        List<String> blobNames = new ArrayList<>(request.files().size());
        for (int i = 0; i < request.files().size(); i++) {
            RelativePath path = request.files().get(i).path();
            paths.add(path);
            blobNames.add(id.fileBlob(path, "files[" + i + "].path"));
        }
        Duration lifetime = request.lifetime().orElse(defaultLifetime);
        if (lifetime.compareTo(maxLifetime) > 0) {
            lifetime = maxLifetime;
        }
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC)
                .truncatedTo(ChronoUnit.SECONDS);
        OffsetDateTime expiry = SasSigner.cappedExpiry(now.plus(lifetime), notAfter);
        CompletableFuture<List<String>> urls = CompletableFuture.supplyAsync(
                () -> signer.sign(blobNames, SasSigner.Access.WRITE, now.minus(CLOCK_SKEW), expiry), signing);
        try {
            admit(id, paths, blobNames);
        } catch (RuntimeException e) {
            urls.cancel(false);
            throw e;
        }
        List<String> signed;
        try {
            signed = urls.join();
        } catch (CompletionException e) {
            // The signer's own exception (e.g. storage unavailable for a delegation key), as if signed here.
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        List<UploadAnswer.Upload> uploads = new ArrayList<>(paths.size());
        for (int i = 0; i < paths.size(); i++) {
            uploads.add(new UploadAnswer.Upload(paths.get(i).value(), blobNames.get(i), signed.get(i)));
        }
        return new UploadAnswer(id.run().value(), id.step().value(), expiry, uploads);
    }

    private void admit(CheckpointId id, List<RelativePath> paths, List<String> blobNames) {
        runs.ensureExists(id.run());
        WriteGate.Admitted admitted = gate.admit(id, paths, incompleteTtl.apply(id.run()));
        if (admitted.admission() != WriteGate.Admission.FRESH && admitted.attemptStart() != null
                && !admitted.first()) {
            // What an earlier attempt left under these paths goes (the commit check refuses it anyway);
            // a file of the current attempt stays, even when a renewal asks for its path again: a
            // client may renew while its last write is still in flight. A step's first attempt had
            // no earlier one, so its ranks skip this round trip.
            discard.accept(blobNames, admitted.attemptStart());
        }
        if (admitted.opens()) {
            index.opened(id, () -> gate.openFirstAttempt(id), signing);
        } else if (admitted.admission() == WriteGate.Admission.NEW_ATTEMPT) {
            index.refresh(id);
        }
    }
}
