package dev.ckptvault.run;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.Json;
import dev.ckptvault.json.JsonFields;
import dev.ckptvault.layout.RunId;
import java.time.Instant;
import java.util.Iterator;
import java.util.Optional;
import dev.ckptvault.retention.RetentionPolicy;

/**
 * Runs' retention policies: what a user set is stored in {@code {runId}/_run.json} (only the
 * fields given), and the effective policy is those fields over the app's defaults.
 */
public final class RunPolicies {
    private final RunRecords runs;
    private final RetentionPolicy defaults;
    private final int minIncompleteTtlMinutes;

    /**
     * @param minIncompleteTtl the shortest {@code incompleteTtlMinutes} a run may have: the longest
     *                         a write URL lives ({@code CKPT_URL_MAX_MINUTES}), since an upload may
     *                         run that long without anything showing in a listing
     */
    public RunPolicies(RunRecords runs, RetentionPolicy defaults, java.time.Duration minIncompleteTtl) {
        this.runs = runs;
        this.defaults = defaults;
        this.minIncompleteTtlMinutes = (int) Math.max(1, minIncompleteTtl.toMinutes());
    }

    /**
     * A run's policy as retention applies it.
     *
     * @param problem why the stored policy could not be used (written out of band), else null;
     *                with a problem, retention keeps every checkpoint of the run
     */
    public record Lookup(RetentionPolicy policy, String problem) {
    }

    /** What {@code PUT /runs/{runId}} answers. */
    public record RunPolicyView(String runId, Instant createdAt, RetentionPolicy retention, JsonNode retentionSet) {
    }

    public RetentionPolicy defaults() {
        return defaults;
    }

    /**
     * How long an uncommitted attempt of the run stays open. Asked on every sync of a checkpoint,
     * so it is cached briefly: a policy change takes effect within a minute.
     */
    public java.time.Duration incompleteTtl(RunId run) {
        long now = System.nanoTime();
        CachedTtl c = ttls.get(run);
        if (c == null || now - c.readAt() > TTL_CACHE_NANOS) {
            c = new CachedTtl(java.time.Duration.ofMinutes(effective(run).incompleteTtlMinutes()), now);
            if (ttls.size() > 10_000) {
                ttls.clear();
            }
            ttls.put(run, c);
        }
        return c.ttl();
    }

    private record CachedTtl(java.time.Duration ttl, long readAt) {
    }

    private static final long TTL_CACHE_NANOS = 60_000_000_000L;
    private final java.util.Map<RunId, CachedTtl> ttls = new java.util.concurrent.ConcurrentHashMap<>();

    /** The effective policy of a run (the defaults for a run without a record). */
    public RetentionPolicy effective(RunId run) {
        return lookup(run).policy();
    }

    public Lookup lookup(RunId run) {
        Optional<RunRecords.Stored> stored = runs.read(run);
        if (stored.isEmpty()) {
            return new Lookup(defaults, null);
        }
        if (stored.get().problem() != null) {
            return new Lookup(defaults, "the stored record " + RunRecords.blobName(run) + " " + stored.get().problem());
        }
        try {
            return new Lookup(atLeastMinimumTtl(RetentionPolicy.over(stored.get().retention(), "retention", defaults)),
                    null);
        } catch (ApiException e) {
            return new Lookup(defaults, "the stored policy in " + RunRecords.blobName(run) + " is invalid: "
                    + e.getMessage());
        }
    }

    /** {@code PUT /runs/{runId}}: body {@code {"retention":{...}}} replaces what the user set. */
    public RunPolicyView put(RunId run, JsonNode body) {
        JsonFields f = JsonFields.object(body, "", ErrorCodes.INVALID_REQUEST);
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("retention") && !name.equals("runId")) {
                throw f.error(name, "is not a run field (known: runId, retention)");
            }
        }
        f.optionalString("runId").ifPresent(given -> {
            if (!given.equals(run.value())) {
                throw f.error("runId", "must equal the route's runId '" + run.value() + "'");
            }
        });
        JsonNode given = f.get("retention");
        ObjectNode userFields = given == null ? Json.MAPPER.createObjectNode()
                : RetentionPolicy.validateUserFields(given, "retention");
        JsonNode ttl = userFields.get("incompleteTtlMinutes");
        if (ttl != null && ttl.asLong() < minIncompleteTtlMinutes) {
            throw new InvalidInputException(ErrorCodes.INVALID_POLICY, "retention.incompleteTtlMinutes is "
                    + ttl.asLong() + "; it must be at least " + minIncompleteTtlMinutes
                    + " (CKPT_URL_MAX_MINUTES): an upload may last as long as its write URL, and a shorter TTL"
                    + " could remove it mid-upload", "retention.incompleteTtlMinutes");
        }
        RunRecords.Stored stored = runs.putRetention(run, userFields);
        // Other instances see the change within a minute; this one at once.
        ttls.remove(run);
        return new RunPolicyView(run.value(), stored.createdAt(),
                atLeastMinimumTtl(RetentionPolicy.over(stored.retention(), "retention", defaults)), stored.retention());
    }

    /**
     * A stored policy from before the minimum (or from a time when URLs lived shorter) is applied
     * with the minimum TTL: never removing an upload whose URL may still be in use.
     */
    private RetentionPolicy atLeastMinimumTtl(RetentionPolicy p) {
        return p.incompleteTtlMinutes() >= minIncompleteTtlMinutes ? p
                : new RetentionPolicy(p.keepLast(), p.keepEvery(), p.keepBest(), p.minAgeMinutes(), minIncompleteTtlMinutes,
                        p.action());
    }
}
