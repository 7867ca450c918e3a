package dev.ckptvault.config;

import java.net.URI;
import java.util.Map;
import java.util.Optional;

/**
 * Reads typed values out of the environment map, naming the setting in every error. Each read
 * name must be one of {@link CkptConfig#SETTINGS}, so the documented list cannot drift.
 */
final class Settings {
    private final Map<String, String> env;

    Settings(Map<String, String> env) {
        this.env = env;
    }

    Optional<String> optional(String name) {
        if (!CkptConfig.SETTINGS.contains(name)) {
            throw new IllegalStateException("undeclared setting " + name);
        }
        String v = env.get(name);
        return v == null || v.isBlank() ? Optional.empty() : Optional.of(v.trim());
    }

    String required(String name) {
        return optional(name).orElseThrow(() -> new ConfigException(name, "is required but not set"));
    }

    String string(String name, String fallback) {
        return optional(name).orElse(fallback);
    }

    long integer(String name, long fallback, long min, long max) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return fallback;
        }
        long parsed;
        try {
            parsed = Long.parseLong(v.get());
        } catch (NumberFormatException e) {
            throw new ConfigException(name, "must be an integer, got '" + v.get() + "'");
        }
        if (parsed < min || parsed > max) {
            throw new ConfigException(name, "must be between " + min + " and " + max + ", got " + parsed);
        }
        return parsed;
    }

    boolean bool(String name, boolean fallback) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return fallback;
        }
        return switch (v.get().toLowerCase()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(name, "must be true or false, got '" + v.get() + "'");
        };
    }

    Optional<URI> uri(String name) {
        Optional<String> v = optional(name);
        if (v.isEmpty()) {
            return Optional.empty();
        }
        try {
            URI uri = new URI(v.get());
            if (uri.getScheme() == null || uri.getHost() == null
                    || !(uri.getScheme().equals("https") || uri.getScheme().equals("http"))) {
                throw new ConfigException(name, "must be an absolute http(s) URL");
            }
            return Optional.of(uri);
        } catch (java.net.URISyntaxException e) {
            throw new ConfigException(name, "must be an absolute http(s) URL");
        }
    }
}
