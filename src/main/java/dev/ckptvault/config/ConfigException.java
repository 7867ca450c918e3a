package dev.ckptvault.config;

/** A setting is missing or malformed; the message names it. Thrown at start, never per request. */
public class ConfigException extends RuntimeException {
    private final String setting;

    public ConfigException(String setting, String problem) {
        super("setting " + setting + " " + problem);
        this.setting = setting;
    }

    public String setting() {
        return setting;
    }
}
