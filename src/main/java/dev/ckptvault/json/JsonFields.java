package dev.ckptvault.json;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.InvalidInputException;
import java.util.Optional;

/**
 * Reads fields out of request JSON with errors that name the field by its full path
 * (e.g. {@code files[3].size}), so a caller with 10,000 entries finds the bad one at once.
 */
public final class JsonFields {
    private final JsonNode node;
    private final String path;
    private final String code;

    private JsonFields(JsonNode node, String path, String code) {
        this.node = node;
        this.path = path;
        this.code = code;
    }

    /** The node must be an object; {@code code} is the error code for violations inside it. */
    public static JsonFields object(JsonNode node, String path, String code) {
        if (node == null || !node.isObject()) {
            throw new InvalidInputException(code, (path.isEmpty() ? "body" : path) + " must be a JSON object",
                    path.isEmpty() ? "body" : path);
        }
        return new JsonFields(node, path, code);
    }

    public String path() {
        return path;
    }

    public JsonNode node() {
        return node;
    }

    public String name(String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    public InvalidInputException error(String field, String problem) {
        return new InvalidInputException(code, name(field) + " " + problem, name(field));
    }

    public InvalidInputException error(String errorCode, String field, String problem) {
        return new InvalidInputException(errorCode, name(field) + " " + problem, name(field));
    }

    public boolean has(String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    public JsonNode get(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v;
    }

    public String requiredString(String field) {
        return optionalString(field).orElseThrow(() -> error(field, "is required"));
    }

    public Optional<String> optionalString(String field) {
        JsonNode v = get(field);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isTextual()) {
            throw error(field, "must be a string");
        }
        return Optional.of(v.textValue());
    }

    public long requiredLong(String field, long min, long max) {
        return optionalLong(field, min, max).orElseThrow(() -> error(field, "is required"));
    }

    public Optional<Long> optionalLong(String field, long min, long max) {
        JsonNode v = get(field);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw error(field, "must be an integer");
        }
        long value = v.longValue();
        if (value < min || value > max) {
            throw error(field, "must be between " + min + " and " + max);
        }
        return Optional.of(value);
    }

    public Optional<Boolean> optionalBoolean(String field) {
        JsonNode v = get(field);
        if (v == null) {
            return Optional.empty();
        }
        if (!v.isBoolean()) {
            throw error(field, "must be true or false");
        }
        return Optional.of(v.booleanValue());
    }

    public JsonNode requiredArray(String field) {
        JsonNode v = get(field);
        if (v == null) {
            throw error(field, "is required");
        }
        if (!v.isArray()) {
            throw error(field, "must be an array");
        }
        return v;
    }

    public Optional<JsonFields> optionalObject(String field) {
        JsonNode v = get(field);
        return v == null ? Optional.empty() : Optional.of(object(v, name(field), code));
    }
}
