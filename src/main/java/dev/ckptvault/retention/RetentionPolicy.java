package dev.ckptvault.retention;

import com.fasterxml.jackson.annotation.JsonValue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.config.RetentionDefaults;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.json.Json;
import dev.ckptvault.json.JsonFields;
import java.util.Iterator;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * A run's effective retention policy: the union of its keep rules decides what stays.
 *
 * @param keepLast             the N newest COMMITTED checkpoints
 * @param keepEvery            every checkpoint whose step is a multiple of K; 0 disables the rule
 * @param keepBest             the best {@code count} by a metric, or null when not set
 * @param minAgeMinutes        a COMMITTED checkpoint younger than this is never removed
 * @param incompleteTtlMinutes an uncommitted checkpoint is removed only after this long without activity
 * @param action               what removing means for COMMITTED checkpoints: delete, or move to the Cool tier
 */
public record RetentionPolicy(int keepLast, long keepEvery, KeepBest keepBest, int minAgeMinutes,
                              int incompleteTtlMinutes, Action action) {
    static final int MAX_KEEP_LAST = 1_000_000;
    static final long MAX_KEEP_EVERY = 999_999_999_999L;
    static final int MAX_MINUTES = 525_600;
    static final int MAX_METRIC_NAME = 128;
    private static final Set<String> FIELDS = Set.of("keepLast", "keepEvery", "keepBest", "minAgeMinutes",
            "incompleteTtlMinutes", "action");
    private static final Set<String> KEEP_BEST_FIELDS = Set.of("metric", "mode", "count");

    public RetentionPolicy {
        Objects.requireNonNull(action, "action");
        if (keepLast < 1 || keepLast > MAX_KEEP_LAST) {
            throw new IllegalArgumentException("keepLast must be 1.." + MAX_KEEP_LAST);
        }
        if (keepEvery < 0 || keepEvery > MAX_KEEP_EVERY) {
            throw new IllegalArgumentException("keepEvery must be 0.." + MAX_KEEP_EVERY);
        }
        if (minAgeMinutes < 0 || minAgeMinutes > MAX_MINUTES) {
            throw new IllegalArgumentException("minAgeMinutes must be 0.." + MAX_MINUTES);
        }
        if (incompleteTtlMinutes < 1 || incompleteTtlMinutes > MAX_MINUTES) {
            throw new IllegalArgumentException("incompleteTtlMinutes must be 1.." + MAX_MINUTES);
        }
    }

    public enum Action {
        DELETE, COOL;

        @JsonValue
        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public enum Mode {
        MIN, MAX;

        @JsonValue
        public String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Keep the {@code count} checkpoints with the lowest (min) or highest (max) value of {@code metric}. */
    public record KeepBest(String metric, Mode mode, int count) {
        public KeepBest {
            Objects.requireNonNull(metric, "metric");
            Objects.requireNonNull(mode, "mode");
            if (metric.isBlank() || metric.length() > MAX_METRIC_NAME) {
                throw new IllegalArgumentException("metric must be 1.." + MAX_METRIC_NAME + " characters");
            }
            if (count < 1 || count > MAX_KEEP_LAST) {
                throw new IllegalArgumentException("count must be 1.." + MAX_KEEP_LAST);
            }
        }
    }

    /** The app-wide defaults (settings {@code CKPT_RETENTION_*}). */
    public static RetentionPolicy of(RetentionDefaults d) {
        return new RetentionPolicy(d.keepLast(), d.keepEvery(), null, d.minAgeMinutes(), d.incompleteTtlMinutes(),
                Action.valueOf(d.action().toUpperCase(Locale.ROOT)));
    }

    /**
     * Validates what a user set ({@code retention} object of {@code PUT /runs/{runId}}) and returns
     * it in its stored form: only the fields given, nothing else. Errors are 400 InvalidPolicy with
     * the field's full path as target.
     */
    public static ObjectNode validateUserFields(JsonNode retention, String path) {
        over(retention, path, null);
        ObjectNode copy = Json.MAPPER.createObjectNode();
        retention.fields().forEachRemaining(e -> {
            if (!e.getValue().isNull()) {
                copy.set(e.getKey(), e.getValue());
            }
        });
        return copy;
    }

    /** The user's fields (already stored, or just given) over {@code base}. Unknown fields are refused. */
    public static RetentionPolicy over(JsonNode retention, String path, RetentionPolicy base) {
        JsonFields f = JsonFields.object(retention, path, ErrorCodes.INVALID_POLICY);
        for (Iterator<String> names = f.node().fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) {
                throw f.error(name, "is not a retention field (known: " + String.join(", ", FIELDS.stream().sorted().toList()) + ")");
            }
        }
        int keepLast = f.optionalLong("keepLast", 1, MAX_KEEP_LAST).map(Long::intValue)
                .orElse(base == null ? 1 : base.keepLast());
        long keepEvery = f.optionalLong("keepEvery", 0, MAX_KEEP_EVERY).orElse(base == null ? 0L : base.keepEvery());
        int minAge = f.optionalLong("minAgeMinutes", 0, MAX_MINUTES).map(Long::intValue)
                .orElse(base == null ? 0 : base.minAgeMinutes());
        int ttl = f.optionalLong("incompleteTtlMinutes", 1, MAX_MINUTES).map(Long::intValue)
                .orElse(base == null ? 1 : base.incompleteTtlMinutes());
        Action action = f.optionalString("action").map(a -> switch (a) {
            case "delete" -> Action.DELETE;
            case "cool" -> Action.COOL;
            default -> throw f.error("action", "must be \"delete\" or \"cool\"");
        }).orElse(base == null ? Action.DELETE : base.action());
        KeepBest keepBest = f.optionalObject("keepBest").map(RetentionPolicy::keepBest)
                .orElse(base == null ? null : base.keepBest());
        return new RetentionPolicy(keepLast, keepEvery, keepBest, minAge, ttl, action);
    }

    private static KeepBest keepBest(JsonFields b) {
        for (Iterator<String> names = b.node().fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!KEEP_BEST_FIELDS.contains(name)) {
                throw b.error(name, "is not a keepBest field (known: count, metric, mode)");
            }
        }
        String metric = b.requiredString("metric");
        if (metric.isBlank() || metric.length() > MAX_METRIC_NAME) {
            throw b.error("metric", "must be 1-" + MAX_METRIC_NAME + " characters");
        }
        Mode mode = switch (b.requiredString("mode")) {
            case "min" -> Mode.MIN;
            case "max" -> Mode.MAX;
            default -> throw b.error("mode", "must be \"min\" or \"max\"");
        };
        int count = (int) b.requiredLong("count", 1, MAX_KEEP_LAST);
        return new KeepBest(metric, mode, count);
    }
}
