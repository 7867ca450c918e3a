package dev.ckptvault.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.Json;
import dev.ckptvault.json.JsonFields;
import dev.ckptvault.layout.RelativePath;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The commit request (docs/design.md "Manifest"), validated. Its canonical form (files sorted by path,
 * keys sorted) is what {@code _manifest.json} holds, so a retried identical manifest compares equal
 * whatever order its writer used.
 */
public record Manifest(long step, List<File> files, Map<String, Double> metrics, Map<String, String> metadata) {
    static final int MAX_METRICS = 256;
    static final int MAX_METADATA = 64;
    static final int MAX_KEY = 128;
    static final int MAX_VALUE = 1024;
    /**
     * Metrics are one string property of the checkpoint's index row, which holds at most 32,768
     * characters: half of it for the metrics, as JSON, leaves room and never fails the index write
     * after the commit record exists.
     */
    public static final int MAX_METRICS_CHARS = 16_384;
    /** Metadata is "small strings": keys and values together, so a commit record stays small. */
    public static final int MAX_METADATA_CHARS = 8_192;
    /** Quoted as in headers, or bare as in listings; never half-quoted (it could match no stored blob). */
    private static final Pattern ETAG = Pattern.compile("\"[\\x21\\x23-\\x7e]{1,128}\"|[\\x21\\x23-\\x7e]{1,128}");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

    /**
     * @param etag   the eTag the writer got back (required: it names the version, so a blob of
     *               another attempt, or one a zombie wrote later, is never mistaken for it)
     * @param sha256 lower-case hex, or null; stored and handed to readers, who verify it
     */
    public record File(String path, long size, String etag, String sha256) {
    }

    public Manifest {
        for (File f : files) {
            if (f.etag() == null) {
                throw new IllegalArgumentException("every manifest file needs its eTag: " + f.path());
            }
        }
        files = files.stream().sorted(Comparator.comparing(File::path)).toList();
        metrics = new TreeMap<>(metrics);
        metadata = new TreeMap<>(metadata);
    }

    public Map<String, File> byPath() {
        Map<String, File> m = new LinkedHashMap<>();
        files.forEach(f -> m.put(f.path(), f));
        return m;
    }

    /** Canonical JSON bytes of this manifest. */
    public byte[] canonical() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("step", step);
        List<Map<String, Object>> fs = new ArrayList<>();
        for (File f : files) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("path", f.path());
            m.put("size", f.size());
            m.put("etag", f.etag());
            if (f.sha256() != null) {
                m.put("sha256", f.sha256());
            }
            fs.add(m);
        }
        out.put("files", fs);
        out.put("metrics", metrics);
        out.put("metadata", metadata);
        return Json.bytes(out);
    }

    /** Parses a request body; every violation is a 400 naming the field. */
    public static Manifest fromJson(JsonNode body, long routeStep, int maxFiles) {
        JsonFields root = JsonFields.object(body, "", ErrorCodes.INVALID_MANIFEST);
        long step = root.requiredLong("step", 0, 999_999_999_999L);
        if (step != routeStep) {
            throw new InvalidInputException(ErrorCodes.INVALID_MANIFEST,
                    "step " + step + " does not match the route's step " + routeStep, "step");
        }
        JsonNode array = root.requiredArray("files");
        if (array.isEmpty()) {
            throw root.error("files", "must list at least one file");
        }
        if (array.size() > maxFiles) {
            throw new InvalidInputException(ErrorCodes.TOO_MANY_FILES,
                    "files lists " + array.size() + " entries; at most " + maxFiles, "files");
        }
        List<File> files = new ArrayList<>(array.size());
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < array.size(); i++) {
            JsonFields f = JsonFields.object(array.get(i), "files[" + i + "]", ErrorCodes.INVALID_MANIFEST);
            RelativePath path = RelativePath.parse(f.requiredString("path"), f.name("path"));
            Integer first = seen.putIfAbsent(path.value(), i);
            if (first != null) {
                throw new InvalidInputException(ErrorCodes.DUPLICATE_PATH,
                        f.name("path") + " repeats files[" + first + "].path '" + path + "'", f.name("path"));
            }
            long size = f.requiredLong("size", 0, Long.MAX_VALUE);
            String etag = f.requiredString("etag");
            if (!ETAG.matcher(etag).matches()) {
                throw f.error("etag", "is not an ETag as storage returns it");
            }
            String sha = f.optionalString("sha256").orElse(null);
            if (sha != null && !SHA256.matcher(sha).matches()) {
                throw f.error("sha256", "must be 64 lower-case hex digits");
            }
            files.add(new File(path.value(), size, ETags.normalize(etag), sha));
        }
        return new Manifest(step, files, metrics(root), metadata(root));
    }

    private static Map<String, Double> metrics(JsonFields root) {
        Map<String, Double> out = new TreeMap<>();
        JsonFields m = root.optionalObject("metrics").orElse(null);
        if (m == null) {
            return out;
        }
        if (m.node().size() > MAX_METRICS) {
            throw root.error("metrics", "has more than " + MAX_METRICS + " entries");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = m.node().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            checkKey(m, e.getKey());
            JsonNode v = e.getValue();
            if (!v.isNumber() || !Double.isFinite(v.doubleValue())) {
                throw m.error(e.getKey(), "must be a finite number");
            }
            out.put(e.getKey(), v.doubleValue());
        }
        int chars = Json.write(out).length();
        if (chars > MAX_METRICS_CHARS) {
            throw root.error("metrics", "is " + chars + " characters as JSON; at most " + MAX_METRICS_CHARS
                    + " (fewer or shorter names)");
        }
        return out;
    }

    private static Map<String, String> metadata(JsonFields root) {
        Map<String, String> out = new TreeMap<>();
        JsonFields m = root.optionalObject("metadata").orElse(null);
        if (m == null) {
            return out;
        }
        if (m.node().size() > MAX_METADATA) {
            throw root.error("metadata", "has more than " + MAX_METADATA + " entries");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = m.node().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            checkKey(m, e.getKey());
            if (!e.getValue().isTextual() || e.getValue().textValue().length() > MAX_VALUE) {
                throw m.error(e.getKey(), "must be a string of at most " + MAX_VALUE + " characters");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        int chars = out.entrySet().stream().mapToInt(e -> e.getKey().length() + e.getValue().length()).sum();
        if (chars > MAX_METADATA_CHARS) {
            throw root.error("metadata", "holds " + chars + " characters of keys and values; at most "
                    + MAX_METADATA_CHARS);
        }
        return out;
    }

    private static void checkKey(JsonFields m, String key) {
        if (key.isEmpty() || key.length() > MAX_KEY || key.chars().anyMatch(c -> c < 0x20 || c == 0x7f)) {
            throw new InvalidInputException(ErrorCodes.INVALID_MANIFEST,
                    m.path() + " keys must be 1-" + MAX_KEY + " printable characters", m.path());
        }
    }

    /** Reads a stored {@code _manifest.json}; empty when it is not a valid manifest (FAILED). */
    public static java.util.Optional<Manifest> parseStored(byte[] data, long step) {
        try {
            return java.util.Optional.of(fromJson(Json.MAPPER.readTree(data), step, Integer.MAX_VALUE));
        } catch (java.io.IOException | RuntimeException e) {
            return java.util.Optional.empty();
        }
    }
}
