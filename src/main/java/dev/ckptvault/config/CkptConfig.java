package dev.ckptvault.config;

import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Every setting the app reads, read once at start. Anything missing or malformed fails here with
 * a message naming the setting, never later in a request.
 */
public record CkptConfig(
        StorageSettings storage,
        String container,
        String indexTable,
        Duration defaultUrlLifetime,
        Duration maxUrlLifetime,
        int maxFilesPerRequest,
        long maxBodyBytes,
        String sweepSchedule,
        RetentionDefaults retention,
        Optional<URI> eventsTopicEndpoint,
        Optional<String> eventsTopicKey,
        BootstrapDefaults bootstrap,
        String keysContainer,
        Duration tokenMaxLifetime) {

    /** Every setting name the app reads; infra/ and local.settings.json.example set exactly these. */
    public static final Set<String> SETTINGS = Set.of(
            "CKPT_STORAGE",
            "CKPT_STORAGE__blobServiceUri",
            "CKPT_STORAGE__tableServiceUri",
            "CKPT_STORAGE__credential",
            "CKPT_STORAGE__clientId",
            "CKPT_CONTAINER",
            "CKPT_INDEX_TABLE",
            "CKPT_URL_DEFAULT_MINUTES",
            "CKPT_URL_MAX_MINUTES",
            "CKPT_MAX_FILES_PER_REQUEST",
            "CKPT_MAX_BODY_BYTES",
            "CKPT_SWEEP_SCHEDULE",
            "CKPT_RETENTION_KEEP_LAST",
            "CKPT_RETENTION_KEEP_EVERY",
            "CKPT_RETENTION_MIN_AGE_MINUTES",
            "CKPT_RETENTION_INCOMPLETE_TTL_MINUTES",
            "CKPT_RETENTION_ACTION",
            "CKPT_EVENTS_TOPIC_ENDPOINT",
            "CKPT_EVENTS_TOPIC_KEY",
            "CKPT_BOOTSTRAP_SUBSCRIPTION_ID",
            "CKPT_BOOTSTRAP_RESOURCE_GROUP",
            "CKPT_BOOTSTRAP_LOCATION",
            "CKPT_BOOTSTRAP_ACCOUNT_NAME",
            "CKPT_BOOTSTRAP_SKU",
            "CKPT_BOOTSTRAP_PRINCIPAL_ID",
            "CKPT_BOOTSTRAP_FUNCTION_APP_ID",
            "CKPT_BOOTSTRAP_SOFT_DELETE_DAYS",
            "CKPT_BOOTSTRAP_ALLOW_SHARED_KEY_ACCESS",
            "CKPT_BOOTSTRAP_DEADLETTER_CONTAINER",
            "CKPT_KEYS_CONTAINER",
            "CKPT_TOKEN_MAX_MINUTES");

    /** The longest run token the setting allows: a year; the default is a week. */
    public static final long TOKEN_MAX_MINUTES_LIMIT = 525_600;

    private static final Pattern CRON = Pattern.compile("\\S+( \\S+){5}");

    public CkptConfig {
        Names.container("CKPT_CONTAINER", container);
        Names.table("CKPT_INDEX_TABLE", indexTable);
        Names.container("CKPT_KEYS_CONTAINER", keysContainer);
        if (keysContainer.equals(container)) {
            // The keys container holds the token-signing keys: whoever may write checkpoints must not read it.
            throw new ConfigException("CKPT_KEYS_CONTAINER", "must differ from CKPT_CONTAINER");
        }
        if (defaultUrlLifetime.compareTo(maxUrlLifetime) > 0) {
            throw new ConfigException("CKPT_URL_DEFAULT_MINUTES", "must not exceed CKPT_URL_MAX_MINUTES");
        }
        // An upload may run as long as its URL lives: a shorter TTL could remove it mid-upload.
        if (Duration.ofMinutes(retention.incompleteTtlMinutes()).compareTo(maxUrlLifetime) < 0) {
            throw new ConfigException("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", "is " + retention.incompleteTtlMinutes()
                    + "; it must be at least CKPT_URL_MAX_MINUTES (" + maxUrlLifetime.toMinutes()
                    + "), the longest a write URL lives");
        }
        if (!CRON.matcher(sweepSchedule).matches()) {
            throw new ConfigException("CKPT_SWEEP_SCHEDULE",
                    "must be a six-field NCRONTAB expression such as '0 */5 * * * *', got '" + sweepSchedule + "'");
        }
    }

    public static CkptConfig fromEnvironment() {
        return fromMap(System.getenv());
    }

    public static CkptConfig fromMap(Map<String, String> env) {
        Settings s = new Settings(env);
        StorageSettings storage = s.optional("CKPT_STORAGE")
                .map(StorageSettings::connectionString)
                .orElseGet(() -> new StorageSettings(null,
                        s.uri("CKPT_STORAGE__blobServiceUri").orElseThrow(() -> new ConfigException(
                                "CKPT_STORAGE", "is required (or set CKPT_STORAGE__blobServiceUri and __tableServiceUri)")),
                        s.uri("CKPT_STORAGE__tableServiceUri").orElseThrow(() -> new ConfigException(
                                "CKPT_STORAGE__tableServiceUri", "is required when CKPT_STORAGE__blobServiceUri is set")),
                        s.string("CKPT_STORAGE__credential", "managedidentity"),
                        s.optional("CKPT_STORAGE__clientId").orElse(null)));
        String action = s.string("CKPT_RETENTION_ACTION", "delete");
        return new CkptConfig(
                storage,
                s.string("CKPT_CONTAINER", "checkpoints"),
                s.string("CKPT_INDEX_TABLE", "ckptindex"),
                Duration.ofMinutes(s.integer("CKPT_URL_DEFAULT_MINUTES", 30, 1, 7 * 24 * 60)),
                Duration.ofMinutes(s.integer("CKPT_URL_MAX_MINUTES", 240, 1, 7 * 24 * 60)),
                (int) s.integer("CKPT_MAX_FILES_PER_REQUEST", 10_000, 1, 10_000),
                s.integer("CKPT_MAX_BODY_BYTES", 8L * 1024 * 1024, 1024, 100L * 1024 * 1024),
                s.required("CKPT_SWEEP_SCHEDULE"),
                new RetentionDefaults(
                        (int) s.integer("CKPT_RETENTION_KEEP_LAST", 3, 1, 1_000_000),
                        s.integer("CKPT_RETENTION_KEEP_EVERY", 0, 0, 999_999_999_999L),
                        (int) s.integer("CKPT_RETENTION_MIN_AGE_MINUTES", 10, 0, 525_600),
                        (int) s.integer("CKPT_RETENTION_INCOMPLETE_TTL_MINUTES", 1440, 1, 525_600),
                        action),
                s.uri("CKPT_EVENTS_TOPIC_ENDPOINT"),
                s.optional("CKPT_EVENTS_TOPIC_KEY"),
                BootstrapDefaults.read(s),
                s.string("CKPT_KEYS_CONTAINER", "ckptvault-keys"),
                Duration.ofMinutes(s.integer("CKPT_TOKEN_MAX_MINUTES", 10_080, 1, TOKEN_MAX_MINUTES_LIMIT)));
    }

    @Override
    public String toString() {
        return "CkptConfig[storage=" + storage + ", container=" + container + ", indexTable=" + indexTable
                + ", urls=" + defaultUrlLifetime + "/" + maxUrlLifetime + ", maxFiles=" + maxFilesPerRequest
                + ", maxBody=" + maxBodyBytes + ", sweep=" + sweepSchedule + ", retention=" + retention
                + ", eventsTopic=" + eventsTopicEndpoint.map(URI::toString).orElse("none")
                + ", eventsTopicKey=" + (eventsTopicKey.isPresent() ? "<redacted>" : "none")
                + ", keysContainer=" + keysContainer + ", tokenMax=" + tokenMaxLifetime + "]";
    }
}
