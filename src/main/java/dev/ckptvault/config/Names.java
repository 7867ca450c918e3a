package dev.ckptvault.config;

import java.util.regex.Pattern;

/** Azure naming rules the app checks before any call, so a bad name fails naming its setting. */
public final class Names {
    // Azure container names: 3-63 chars, lowercase letters, digits, single hyphens inside.
    private static final Pattern CONTAINER = Pattern.compile("(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]");
    private static final Pattern TABLE = Pattern.compile("[A-Za-z][A-Za-z0-9]{2,62}");

    private Names() {
    }

    public static String container(String setting, String value) {
        if (value == null || !CONTAINER.matcher(value).matches()) {
            throw new ConfigException(setting, "is not a valid container name: '" + value + "'");
        }
        return value;
    }

    public static String table(String setting, String value) {
        if (value == null || !TABLE.matcher(value).matches()) {
            throw new ConfigException(setting, "is not a valid table name: '" + value + "'");
        }
        return value;
    }
}
