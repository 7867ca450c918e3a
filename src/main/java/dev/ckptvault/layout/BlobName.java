package dev.ckptvault.layout;

import java.util.Optional;

/**
 * What a blob name means in the layout. Names that do not fit are not parsed: the indexer
 * ignores them and retention never touches them.
 */
public sealed interface BlobName {
    /** {runId}/_run.json */
    record RunRecord(RunId run) implements BlobName {
    }

    /** {runId}/step-{012d}/{relative path} */
    record File(CheckpointId checkpoint, RelativePath path) implements BlobName {
    }

    /** {runId}/step-{012d}/_manifest.json, _commit.json, _tombstone.json or _attempt.json */
    record Record(CheckpointId checkpoint, Kind kind) implements BlobName {
    }

    enum Kind { MANIFEST, COMMIT, TOMBSTONE, ATTEMPT }

    static Optional<BlobName> parse(String name) {
        if (name == null || name.length() > RelativePath.MAX_BLOB_NAME) {
            return Optional.empty();
        }
        int slash = name.indexOf('/');
        if (slash <= 0 || !RunId.isValid(name.substring(0, slash))) {
            return Optional.empty();
        }
        RunId run = new RunId(name.substring(0, slash));
        String rest = name.substring(slash + 1);
        if (rest.equals("_run.json")) {
            return Optional.of(new RunRecord(run));
        }
        // "step-" + 12 digits + "/"
        if (rest.length() < 19 || !rest.startsWith("step-") || rest.charAt(17) != '/') {
            return Optional.empty();
        }
        String digits = rest.substring(5, 17);
        for (int i = 0; i < digits.length(); i++) {
            if (!Character.isDigit(digits.charAt(i)) || digits.charAt(i) > '9') {
                return Optional.empty();
            }
        }
        CheckpointId checkpoint = new CheckpointId(run, new Step(Long.parseLong(digits)));
        String inner = rest.substring(18);
        switch (inner) {
            case CheckpointId.MANIFEST:
                return Optional.of(new Record(checkpoint, Kind.MANIFEST));
            case CheckpointId.COMMIT:
                return Optional.of(new Record(checkpoint, Kind.COMMIT));
            case CheckpointId.TOMBSTONE:
                return Optional.of(new Record(checkpoint, Kind.TOMBSTONE));
            case CheckpointId.ATTEMPT:
                return Optional.of(new Record(checkpoint, Kind.ATTEMPT));
            default:
                return RelativePath.isValid(inner)
                        ? Optional.of(new File(checkpoint, new RelativePath(inner)))
                        : Optional.empty();
        }
    }
}
