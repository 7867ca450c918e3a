package dev.ckptvault.layout;

import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import java.util.Objects;

/** One checkpoint: a run and a step. Knows the blob names of its files and records. */
public record CheckpointId(RunId run, Step step) implements Comparable<CheckpointId> {
    public static final String MANIFEST = "_manifest.json";
    public static final String COMMIT = "_commit.json";
    public static final String TOMBSTONE = "_tombstone.json";
    public static final String ATTEMPT = "_attempt.json";

    public CheckpointId {
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(step, "step");
    }

    public static CheckpointId of(String run, long step) {
        return new CheckpointId(new RunId(run), new Step(step));
    }

    /** Prefix of every blob of this checkpoint, ending with '/'. */
    public String prefix() {
        return run.value() + "/" + step.folder() + "/";
    }

    /** Prefix that lists only the app-written records ('_' names) of this checkpoint. */
    public String recordsPrefix() {
        return prefix() + "_";
    }

    public String manifestBlob() {
        return prefix() + MANIFEST;
    }

    public String commitBlob() {
        return prefix() + COMMIT;
    }

    public String tombstoneBlob() {
        return prefix() + TOMBSTONE;
    }

    public String attemptBlob() {
        return prefix() + ATTEMPT;
    }

    /** Blob name of a checkpoint file; refuses paths that would make the name too long for Azure. */
    public String fileBlob(RelativePath path, String target) {
        String name = prefix() + path.value();
        if (name.length() > RelativePath.MAX_BLOB_NAME) {
            throw new InvalidInputException(ErrorCodes.INVALID_PATH,
                    target + " makes the blob name longer than " + RelativePath.MAX_BLOB_NAME + " characters",
                    target);
        }
        return name;
    }

    @Override
    public int compareTo(CheckpointId o) {
        int c = run.compareTo(o.run);
        return c != 0 ? c : step.compareTo(o.step);
    }

    @Override
    public String toString() {
        return run + "@" + step;
    }
}
