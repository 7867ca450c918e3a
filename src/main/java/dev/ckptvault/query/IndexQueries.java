package dev.ckptvault.query;

import dev.ckptvault.commit.CheckpointSync;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.layout.Step;
import dev.ckptvault.storage.SasSigner;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.checkpoint.FileEntry;
import dev.ckptvault.index.IndexStore;

/**
 * The read side of the API. Answers from the index only: finding the latest committed checkpoint
 * reads the newest rows of one partition until the first COMMITTED one, never the container.
 */
public final class IndexQueries {
    public static final int DEFAULT_LIMIT = 100;
    public static final int MAX_LIMIT = 1000;

    private final IndexStore index;
    private final CheckpointSync sync;
    private final SasSigner signer;
    private final Clock clock;
    private final Duration readUrlLifetime;
    private final Function<RunId, Object> retention;

    public IndexQueries(IndexStore index, CheckpointSync sync, SasSigner signer, Clock clock,
                        Duration readUrlLifetime, Function<RunId, Object> retention) {
        this.index = index;
        this.sync = sync;
        this.signer = signer;
        this.clock = clock;
        this.readUrlLifetime = readUrlLifetime;
        this.retention = retention;
    }

    public record Page<T>(List<T> items, String next) {
    }

    public record CheckpointList(List<Checkpoint> checkpoints, String next) {
    }

    public record RunList(List<Map<String, Object>> runs, String next) {
    }

    public CheckpointList list(RunId run, String stateText, String limitText, String continuation, boolean withFiles) {
        String state = null;
        if (stateText != null && !stateText.isEmpty()) {
            try {
                state = CheckpointState.valueOf(stateText.toUpperCase()).name();
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException(ErrorCodes.INVALID_REQUEST,
                        "state must be one of " + java.util.Arrays.toString(CheckpointState.values()), "state");
            }
        }
        int limit = limit(limitText);
        Long after = continuation == null || continuation.isEmpty() ? null
                : Step.parse(decode(continuation), "continuation").value();
        requireRun(run);
        List<IndexStore.CheckpointRow> rows = index.checkpoints(run, state, after, limit + 1);
        List<Checkpoint> out = new ArrayList<>();
        for (IndexStore.CheckpointRow r : rows.subList(0, Math.min(limit, rows.size()))) {
            out.add(withFiles ? sync.withFiles(new CheckpointId(run, Step.of(r.summary().step())), r.summary())
                    : r.summary());
        }
        String next = rows.size() > limit ? encode(Long.toString(out.get(out.size() - 1).step())) : null;
        return new CheckpointList(out, next);
    }

    public Checkpoint latest(RunId run) {
        return latest(run, Instant.MAX);
    }

    /**
     * The run's latest pointer row names the newest COMMITTED checkpoint with its files: one point
     * read. A file list too large for that row costs a query of the file rows; a run indexed before
     * pointers existed has none, and then its rows are queried.
     *
     * @param notAfter when the caller's credential expires: no read URL outlives it
     */
    public Checkpoint latest(RunId run, Instant notAfter) {
        Optional<IndexStore.Latest> pointer = index.latest(run);
        Checkpoint c;
        boolean filesHere;
        if (pointer.isPresent()) {
            c = pointer.get().checkpoint();
            filesHere = pointer.get().filesInline();
        } else {
            List<IndexStore.CheckpointRow> rows = index.checkpoints(run, CheckpointState.COMMITTED.name(), null, 1);
            c = rows.isEmpty() ? null : rows.get(0).summary();
            filesHere = false;
        }
        if (c != null && !filesHere) {
            c = sync.withFiles(new CheckpointId(run, Step.of(c.step())), c);
        }
        if (c == null) {
            throw new NotFoundException(ErrorCodes.NO_COMMITTED_CHECKPOINT,
                    "run " + run + " has no committed checkpoint", "runId");
        }
        return withReadUrls(c, notAfter);
    }

    public Checkpoint get(CheckpointId id, boolean downloads) {
        return get(id, downloads, Instant.MAX);
    }

    /** @param notAfter when the caller's credential expires: no read URL outlives it */
    public Checkpoint get(CheckpointId id, boolean downloads, Instant notAfter) {
        Checkpoint c = sync.get(id).orElseThrow(() -> new NotFoundException(ErrorCodes.NOT_FOUND,
                "run " + id.run() + " has no checkpoint at step " + id.step(), "step"));
        return downloads ? withReadUrls(c, notAfter) : c;
    }

    private Checkpoint withReadUrls(Checkpoint c, Instant notAfter) {
        CheckpointId id = CheckpointId.of(c.runId(), c.step());
        List<String> names = c.files().stream().map(f -> id.prefix() + f.path()).toList();
        // A committed file's URL reads the version its commit record names (where the account keeps
        // versions): nothing written to the blob afterwards reaches the reader.
        List<String> versions = c.files().stream().map(FileEntry::versionId).toList();
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC)
                .truncatedTo(ChronoUnit.SECONDS);
        List<String> urls = signer.signReads(names, versions, now.minusMinutes(5),
                SasSigner.cappedExpiry(now.plus(readUrlLifetime), notAfter));
        List<FileEntry> files = new ArrayList<>();
        for (int i = 0; i < c.files().size(); i++) {
            files.add(c.files().get(i).withUrl(urls.get(i)));
        }
        return new Checkpoint(c.runId(), c.step(), c.state(), c.tier(), files, c.missing(), c.extra(), c.bytes(),
                c.metrics(), c.pinned(), c.createdAt(), c.committedAt(), c.lastActivityAt());
    }

    public Map<String, Object> run(RunId run) {
        IndexStore.RunRow row = requireRun(run);
        return summary(row);
    }

    public RunList runs(String limitText, String continuation) {
        int limit = limit(limitText);
        String after = continuation == null || continuation.isEmpty() ? null : decode(continuation);
        if (after != null && !RunId.isValid(after)) {
            throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "continuation is not valid", "continuation");
        }
        List<IndexStore.RunRow> rows = index.runs(after, limit + 1);
        List<Map<String, Object>> out = new ArrayList<>();
        for (IndexStore.RunRow r : rows.subList(0, Math.min(limit, rows.size()))) {
            out.add(summary(r));
        }
        String next = rows.size() > limit ? encode(rows.get(limit - 1).run().value()) : null;
        return new RunList(out, next);
    }

    private Map<String, Object> summary(IndexStore.RunRow row) {
        Map<CheckpointState, Integer> counts = new EnumMap<>(CheckpointState.class);
        Long latest = null;
        long bytes = 0;
        for (Checkpoint c : sync.allOfRun(row.run())) {
            counts.merge(c.state(), 1, Integer::sum);
            if (c.state() == CheckpointState.COMMITTED && (latest == null || c.step() > latest)) {
                latest = c.step();
            }
            if (!c.state().isGone()) {
                bytes += c.bytes();
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("runId", row.run().value());
        out.put("createdAt", row.createdAt());
        out.put("retention", retention.apply(row.run()));
        out.put("latestCommittedStep", latest);
        out.put("counts", counts);
        out.put("bytes", bytes);
        return out;
    }

    private IndexStore.RunRow requireRun(RunId run) {
        return index.run(run).orElseThrow(() -> new NotFoundException(ErrorCodes.NOT_FOUND,
                "no run " + run, "runId"));
    }

    private static int limit(String text) {
        if (text == null || text.isEmpty()) {
            return DEFAULT_LIMIT;
        }
        try {
            int v = Integer.parseInt(text);
            if (v >= 1 && v <= MAX_LIMIT) {
                return v;
            }
        } catch (NumberFormatException ignored) {
            // falls through to the error
        }
        throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "limit must be an integer from 1 to " + MAX_LIMIT,
                "limit");
    }

    private static String encode(String s) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    private static String decode(String token) {
        try {
            return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "continuation is not valid", "continuation");
        }
    }
}
