package dev.ckptvault.checkpoint;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Derives a checkpoint's state from storage alone: a listing of its prefix plus, when present,
 * its manifest and commit record. A pure function, so the commit path, the sweep, event handling
 * and reindex cannot disagree.
 */
public final class Derivation {
    private Derivation() {
    }

    /**
     * @param ready true when the manifest is valid and every listed file is present in the meant
     *              version: the checkpoint may be committed now
     */
    public record Result(Checkpoint checkpoint, boolean ready) {
    }

    /**
     * @param manifest null when no manifest blob exists; empty when it exists but is invalid
     * @param record   the commit record, or null when none exists
     */
    public static Result derive(StepListing l, Optional<Manifest> manifest, CommitRecord record, Instant now,
                                Duration incompleteTtl) {
        String run = l.id().run().value();
        long step = l.id().step().value();
        // A write-URL request counts too (renewals during a long Put Block upload, whose blocks no
        // listing shows): the attempt record carries the last one.
        Instant lastActivity = Attempts.lastActive(l.attempt());
        if (l.manifest() != null && l.manifest().lastModified().isAfter(lastActivity)) {
            lastActivity = l.manifest().lastModified();
        }
        for (StoredBlob f : l.files().values()) {
            lastActivity = f.lastModified().isAfter(lastActivity) ? f.lastModified() : lastActivity;
        }
        Instant createdAt = l.attempt() != null ? l.attempt().createdAt()
                : l.files().values().stream().map(StoredBlob::createdAt).min(Instant::compareTo).orElse(lastActivity);
        String tier = !l.files().isEmpty() && l.files().values().stream().allMatch(StoredBlob::cool) ? "cool" : "hot";
        boolean pinned = l.commit() != null
                && "true".equalsIgnoreCase(l.commit().metadata().get(CommitRecord.PINNED_METADATA));

        if (l.tombstone() != null) {
            boolean othersLeft = !l.files().isEmpty() || l.manifest() != null || l.commit() != null
                    || l.attempt() != null;
            List<FileEntry> files = present(l);
            return new Result(new Checkpoint(run, step, othersLeft ? CheckpointState.DELETING : CheckpointState.DELETED,
                    tier, files, List.of(), List.of(), sum(files), record == null ? Map.of() : record.metrics(), pinned,
                    createdAt, record == null ? null : record.committedAt(), lastActivity), false);
        }
        if (record != null) {
            List<FileEntry> files = new ArrayList<>();
            boolean intact = true;
            for (CommitRecord.File f : record.files()) {
                files.add(new FileEntry(f.path(), f.size(), f.etag(), f.sha256(), null, f.versionId()));
                StoredBlob now0 = l.files().get(f.path());
                if (now0 == null || !now0.etag().equals(f.etag()) || now0.size() != f.size()) {
                    intact = false;
                }
            }
            java.util.Set<String> recorded = new java.util.HashSet<>();
            record.files().forEach(f -> recorded.add(f.path()));
            List<String> extra = l.files().keySet().stream().filter(p -> !recorded.contains(p)).toList();
            return new Result(new Checkpoint(run, step, intact ? CheckpointState.COMMITTED : CheckpointState.TAMPERED,
                    tier, files, List.of(), extra, record.bytes(), record.metrics(), pinned, createdAt,
                    record.committedAt(), lastActivity), false);
        }
        boolean stale = lastActivity.isBefore(now.minus(incompleteTtl));
        if (manifest != null) {
            if (manifest.isEmpty()) {
                List<FileEntry> files = present(l);
                return new Result(new Checkpoint(run, step, CheckpointState.FAILED, tier, files, List.of(), List.of(),
                        sum(files), Map.of(), false, createdAt, null, lastActivity), false);
            }
            Manifest m = manifest.get();
            Instant attemptStart = Attempts.start(l.attempt());
            List<FileEntry> files = new ArrayList<>();
            List<String> missing = new ArrayList<>();
            for (Manifest.File f : m.files()) {
                StoredBlob b = l.files().get(f.path());
                // The eTag names the version; the attempt's start rules out a leftover of an earlier attempt.
                boolean meant = b != null && b.size() == f.size() && f.etag().equals(b.etag())
                        && !b.lastModified().isBefore(attemptStart);
                if (meant) {
                    files.add(new FileEntry(f.path(), b.size(), b.etag(), f.sha256(), null));
                } else {
                    missing.add(f.path());
                }
            }
            List<String> extra = l.files().keySet().stream().filter(p -> !m.byPath().containsKey(p)).toList();
            boolean ready = missing.isEmpty();
            CheckpointState state = !ready && stale ? CheckpointState.ABANDONED : CheckpointState.COMMITTING;
            return new Result(new Checkpoint(run, step, state, tier, files, missing, extra, sum(files), m.metrics(),
                    false, createdAt, null, lastActivity), ready);
        }
        List<FileEntry> files = present(l);
        return new Result(new Checkpoint(run, step, stale ? CheckpointState.ABANDONED : CheckpointState.UPLOADING,
                tier, files, List.of(), List.of(), sum(files), Map.of(), false, createdAt, null, lastActivity), false);
    }

    private static List<FileEntry> present(StepListing l) {
        return l.files().entrySet().stream()
                .map(e -> new FileEntry(e.getKey(), e.getValue().size(), e.getValue().etag(), null, null)).toList();
    }

    private static long sum(List<FileEntry> files) {
        return files.stream().mapToLong(FileEntry::size).sum();
    }
}
