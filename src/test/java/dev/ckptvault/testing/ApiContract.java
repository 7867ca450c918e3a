package dev.ckptvault.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.networknt.schema.JsonSchema;
import com.networknt.schema.JsonSchemaFactory;
import com.networknt.schema.SpecVersion;
import com.networknt.schema.ValidationMessage;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * docs/openapi.yaml as the tests read it: the routes it describes and the schema of each answer.
 * {@link #check} validates one answer the way a client generated from the file would read it, so
 * every test that calls the app through this class also checks the description.
 */
public final class ApiContract {
    public static final Path FILE = AzuriteExtension.projectDir().resolve("docs/openapi.yaml");
    private static final ApiContract INSTANCE = load();

    private final JsonNode spec;
    private final JsonSchemaFactory factory = JsonSchemaFactory.getInstance(SpecVersion.VersionFlag.V202012);
    private final Map<String, JsonSchema> schemas = new ConcurrentHashMap<>();

    private ApiContract(JsonNode spec) {
        this.spec = spec;
    }

    public static ApiContract get() {
        return INSTANCE;
    }

    private static ApiContract load() {
        try {
            return new ApiContract(new ObjectMapper(new YAMLFactory()).readTree(FILE.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + FILE, e);
        }
    }

    public JsonNode spec() {
        return spec;
    }

    /** "METHOD /path" of every operation the file describes, paths as written there ({runId}, {step}). */
    public List<String> operations() {
        List<String> out = new ArrayList<>();
        spec.path("paths").fields().forEachRemaining(p -> p.getValue().fieldNames().forEachRemaining(m -> {
            if (List.of("get", "put", "post", "delete", "patch", "head", "options").contains(m)) {
                out.add(m.toUpperCase(Locale.ROOT) + " " + p.getKey());
            }
        }));
        return out;
    }

    /** The route of a function.json ("runs/{runId}/checkpoints/{step:long}") as the file writes it. */
    public static String pathOf(String functionRoute) {
        return "/" + functionRoute.replaceAll("\\{([A-Za-z0-9_]+):[^}]+}", "{$1}");
    }

    /**
     * Checks one answer against the description: the operation exists, it describes this status,
     * and the body validates against that status's schema.
     *
     * @param path the path as the file writes it, e.g. {@code /runs/{runId}/checkpoints/latest}
     * @throws AssertionError naming what does not match
     */
    public void check(String method, String path, int status, String body) {
        JsonNode operation = spec.path("paths").path(path).path(method.toLowerCase(Locale.ROOT));
        if (operation.isMissingNode()) {
            throw new AssertionError("docs/openapi.yaml describes no " + method + " " + path);
        }
        JsonNode response = resolve(operation.path("responses").path(Integer.toString(status)));
        if (response.isMissingNode()) {
            throw new AssertionError("docs/openapi.yaml: " + method + " " + path + " describes no " + status
                    + " answer, but the app gave one: " + clip(body));
        }
        JsonNode schema = response.path("content").path("application/json").path("schema");
        if (schema.isMissingNode()) {
            return;
        }
        java.util.Set<ValidationMessage> errors = schemaFor(schema).validate(Json.parse(body, "answer"));
        if (!errors.isEmpty()) {
            throw new AssertionError("the " + status + " answer of " + method + " " + path
                    + " does not match docs/openapi.yaml: " + errors + "\nanswer: " + clip(body));
        }
    }

    private JsonNode resolve(JsonNode node) {
        JsonNode ref = node.get("$ref");
        return ref == null ? node : resolve(pointer(ref.asText()));
    }

    private JsonNode pointer(String ref) {
        return spec.at(ref.substring(1));
    }

    /** A JSON Schema document whose root is the answer's schema and which carries the file's components for $refs. */
    private JsonSchema schemaFor(JsonNode schema) {
        return schemas.computeIfAbsent(schema.toString(), key -> {
            ObjectNode doc = ((ObjectNode) schema.deepCopy());
            doc.put("$schema", "https://json-schema.org/draft/2020-12/schema");
            doc.set("components", spec.path("components"));
            return factory.getSchema(doc);
        });
    }

    /** Every $ref in the file, with whether it resolves. */
    public Map<String, Boolean> refs() {
        Map<String, Boolean> out = new LinkedHashMap<>();
        collectRefs(spec, out);
        return out;
    }

    private void collectRefs(JsonNode node, Map<String, Boolean> out) {
        if (node.isObject()) {
            JsonNode ref = node.get("$ref");
            if (ref != null) {
                out.put(ref.asText(), ref.asText().startsWith("#/") && !pointer(ref.asText()).isMissingNode());
            }
            for (Iterator<JsonNode> it = node.elements(); it.hasNext(); ) {
                collectRefs(it.next(), out);
            }
        } else if (node.isArray()) {
            node.forEach(n -> collectRefs(n, out));
        }
    }

    private static String clip(String s) {
        return s == null ? "null" : s.length() > 600 ? s.substring(0, 600) + "..." : s;
    }
}
