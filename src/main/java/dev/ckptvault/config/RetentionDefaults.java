package dev.ckptvault.config;

/**
 * App-wide defaults for a run's retention policy, used when a run does not set its own.
 *
 * @param keepEvery 0 disables the rule
 */
public record RetentionDefaults(int keepLast, long keepEvery, int minAgeMinutes, int incompleteTtlMinutes,
                                String action) {
    public RetentionDefaults {
        if (keepLast < 1) {
            throw new ConfigException("CKPT_RETENTION_KEEP_LAST", "must be at least 1");
        }
        if (!action.equals("delete") && !action.equals("cool")) {
            throw new ConfigException("CKPT_RETENTION_ACTION", "must be delete or cool, got '" + action + "'");
        }
    }
}
