package dev.ckptvault.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.Json;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** {@link Manifest}: every violation is a 400 naming its field; one canonical form per manifest. */
class ManifestTest {
    static final long STEP = 7;
    static final int MAX_FILES = 3;

    /** JSON written with single quotes, for readable tables. */
    static String j(String singleQuoted) {
        return singleQuoted.replace('\'', '"');
    }

    static JsonNode node(String singleQuoted) {
        return Json.parse(j(singleQuoted), "test");
    }

    /** A valid file entry; every test file carries an eTag. */
    static String file(int i) {
        return "{'path':'rank-" + i + "/model.bin','size':" + (10 + i) + ",'etag':'0x8DC000" + i + "'}";
    }

    static String files(String... entries) {
        return "'files':[" + String.join(",", entries) + "]";
    }

    static String manifest(String... entries) {
        return "{'step':7," + files(entries) + "}";
    }

    static String withTwoValidFirst(String third) {
        return manifest(file(0), file(1), third);
    }

    static Manifest parse(String singleQuoted) {
        return Manifest.fromJson(node(singleQuoted), STEP, MAX_FILES);
    }

    static String repeat(String s, int n) {
        return s.repeat(n);
    }

    static Stream<Arguments> violations() {
        String longValue = repeat("x", 1025);
        String longKey = repeat("k", 129);
        String manyMetrics = IntStream.range(0, 257).mapToObj(i -> "'m" + i + "':1").collect(Collectors.joining(","));
        String manyMetadata = IntStream.range(0, 65).mapToObj(i -> "'k" + i + "':'v'").collect(Collectors.joining(","));
        return Stream.of(
                Arguments.of("body is an array", "[1]", ErrorCodes.INVALID_MANIFEST, "body"),
                Arguments.of("step missing", "{" + files(file(0)) + "}", ErrorCodes.INVALID_MANIFEST, "step"),
                Arguments.of("step is a string", "{'step':'7'," + files(file(0)) + "}", ErrorCodes.INVALID_MANIFEST,
                        "step"),
                Arguments.of("step is a fraction", "{'step':7.5," + files(file(0)) + "}",
                        ErrorCodes.INVALID_MANIFEST, "step"),
                Arguments.of("step is negative", "{'step':-1," + files(file(0)) + "}", ErrorCodes.INVALID_MANIFEST,
                        "step"),
                Arguments.of("step is 10^12", "{'step':1000000000000," + files(file(0)) + "}",
                        ErrorCodes.INVALID_MANIFEST, "step"),
                Arguments.of("step differs from the route's", "{'step':8," + files(file(0)) + "}",
                        ErrorCodes.INVALID_MANIFEST, "step"),
                Arguments.of("files missing", "{'step':7}", ErrorCodes.INVALID_MANIFEST, "files"),
                Arguments.of("files is an object", "{'step':7,'files':{}}", ErrorCodes.INVALID_MANIFEST, "files"),
                Arguments.of("files is null", "{'step':7,'files':null}", ErrorCodes.INVALID_MANIFEST, "files"),
                Arguments.of("files is empty", "{'step':7,'files':[]}", ErrorCodes.INVALID_MANIFEST, "files"),
                Arguments.of("more files than allowed", manifest(file(0), file(1), file(2), file(3)),
                        ErrorCodes.TOO_MANY_FILES, "files"),
                Arguments.of("a file entry is a number", withTwoValidFirst("5"), ErrorCodes.INVALID_MANIFEST,
                        "files[2]"),
                Arguments.of("path missing", withTwoValidFirst("{'size':1,'etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].path"),
                Arguments.of("path is a number", withTwoValidFirst("{'path':5,'size':1,'etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].path"),
                Arguments.of("path climbs out", withTwoValidFirst("{'path':'../x','size':1,'etag':'0x1'}"),
                        ErrorCodes.INVALID_PATH, "files[2].path"),
                Arguments.of("path is a reserved name",
                        withTwoValidFirst("{'path':'_manifest.json','size':1,'etag':'0x1'}"), ErrorCodes.INVALID_PATH,
                        "files[2].path"),
                Arguments.of("path is absolute", withTwoValidFirst("{'path':'/a','size':1,'etag':'0x1'}"),
                        ErrorCodes.INVALID_PATH, "files[2].path"),
                Arguments.of("path repeats an earlier one",
                        withTwoValidFirst("{'path':'rank-0/model.bin','size':1,'etag':'0x1'}"),
                        ErrorCodes.DUPLICATE_PATH, "files[2].path"),
                Arguments.of("size missing", withTwoValidFirst("{'path':'c','etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].size"),
                Arguments.of("size is negative", withTwoValidFirst("{'path':'c','size':-1,'etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].size"),
                Arguments.of("size is a fraction", withTwoValidFirst("{'path':'c','size':1.5,'etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].size"),
                Arguments.of("size is a string", withTwoValidFirst("{'path':'c','size':'1','etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].size"),
                Arguments.of("size beyond a long",
                        withTwoValidFirst("{'path':'c','size':99999999999999999999,'etag':'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[2].size"),
                Arguments.of("etag is a number", manifest(file(0), "{'path':'c','size':1,'etag':5}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag has a space", manifest(file(0), "{'path':'c','size':1,'etag':'0x 1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag has an inner quote", manifest(file(0), "{'path':'c','size':1,'etag':'0x\\'1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag only opens its quote", manifest(file(0), "{'path':'c','size':1,'etag':'\\'0x1'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag only closes its quote", manifest(file(0), "{'path':'c','size':1,'etag':'0x1\\''}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag is a weak validator",
                        manifest(file(0), "{'path':'c','size':1,'etag':'W/\\'0x1\\''}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("etag is empty quotes", manifest(file(0), "{'path':'c','size':1,'etag':'\\'\\''}"),
                        ErrorCodes.INVALID_MANIFEST, "files[1].etag"),
                Arguments.of("sha256 upper case",
                        manifest("{'path':'c','size':1,'etag':'0x1','sha256':'" + repeat("AB", 32) + "'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[0].sha256"),
                Arguments.of("sha256 one digit short",
                        manifest("{'path':'c','size':1,'etag':'0x1','sha256':'" + repeat("a", 63) + "'}"),
                        ErrorCodes.INVALID_MANIFEST, "files[0].sha256"),
                Arguments.of("metrics is an array", "{'step':7," + files(file(0)) + ",'metrics':[1]}",
                        ErrorCodes.INVALID_MANIFEST, "metrics"),
                Arguments.of("a metric is a string", "{'step':7," + files(file(0)) + ",'metrics':{'loss':'1.0'}}",
                        ErrorCodes.INVALID_MANIFEST, "metrics.loss"),
                Arguments.of("a metric is null", "{'step':7," + files(file(0)) + ",'metrics':{'loss':null}}",
                        ErrorCodes.INVALID_MANIFEST, "metrics.loss"),
                Arguments.of("a metric overflows to infinity",
                        "{'step':7," + files(file(0)) + ",'metrics':{'loss':1e400}}", ErrorCodes.INVALID_MANIFEST,
                        "metrics.loss"),
                Arguments.of("257 metrics", "{'step':7," + files(file(0)) + ",'metrics':{" + manyMetrics + "}}",
                        ErrorCodes.INVALID_MANIFEST, "metrics"),
                Arguments.of("a metric name with a control character",
                        "{'step':7," + files(file(0)) + ",'metrics':{'lo\\u0001ss':1}}", ErrorCodes.INVALID_MANIFEST,
                        "metrics"),
                Arguments.of("metadata value is a number",
                        "{'step':7," + files(file(0)) + ",'metadata':{'framework':1}}", ErrorCodes.INVALID_MANIFEST,
                        "metadata.framework"),
                Arguments.of("metadata value of 1025 characters",
                        "{'step':7," + files(file(0)) + ",'metadata':{'note':'" + longValue + "'}}",
                        ErrorCodes.INVALID_MANIFEST, "metadata.note"),
                Arguments.of("metadata key of 129 characters",
                        "{'step':7," + files(file(0)) + ",'metadata':{'" + longKey + "':'v'}}",
                        ErrorCodes.INVALID_MANIFEST, "metadata"),
                Arguments.of("metadata key empty", "{'step':7," + files(file(0)) + ",'metadata':{'':'v'}}",
                        ErrorCodes.INVALID_MANIFEST, "metadata"),
                Arguments.of("65 metadata entries",
                        "{'step':7," + files(file(0)) + ",'metadata':{" + manyMetadata + "}}",
                        ErrorCodes.INVALID_MANIFEST, "metadata"),
                Arguments.of("metadata is a string", "{'step':7," + files(file(0)) + ",'metadata':'x'}",
                        ErrorCodes.INVALID_MANIFEST, "metadata"));
    }

    @ParameterizedTest(name = "{0} -> {2} at {3}")
    @MethodSource("violations")
    void everyViolationIsA400NamingTheField(String name, String json, String code, String target) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> parse(json));
        assertEquals(code, e.code(), e.getMessage());
        assertEquals(target, e.target(), e.getMessage());
        assertTrue(e.getMessage().contains(target), "the message names the field: " + e.getMessage());
    }

    @Test
    void theLimitsThemselvesAreAccepted() {
        String metrics = IntStream.range(0, 256).mapToObj(i -> "'m" + i + "':" + i).collect(Collectors.joining(","));
        String metadata = IntStream.range(0, 63).mapToObj(i -> "'k" + i + "':'v'").collect(Collectors.joining(","))
                + ",'" + repeat("k", 128) + "':'" + repeat("v", 1024) + "'";
        Manifest m = parse("{'step':7," + files(file(0), file(1), file(2)) + ",'metrics':{" + metrics
                + "},'metadata':{" + metadata + "}}");
        assertEquals(3, m.files().size());
        assertEquals(256, m.metrics().size());
        assertEquals(64, m.metadata().size());
        assertEquals(repeat("v", 1024), m.metadata().get(repeat("k", 128)));
    }

    @Test
    void aParsedManifestKeepsWhatTheWriterSaid() {
        Manifest m = parse("{'step':7,'files':[{'path':'rank-0/model.safetensors','size':123456789,"
                + "'etag':'\\'0x8DC1\\'','sha256':'" + repeat("ab", 32) + "'}],"
                + "'metrics':{'val_loss':1.234,'tokens':5},'metadata':{'framework':'torch-dcp'}}");
        assertEquals(7, m.step());
        assertEquals(List.of(new Manifest.File("rank-0/model.safetensors", 123456789, "\"0x8DC1\"", repeat("ab", 32))),
                m.files());
        assertEquals(Map.of("val_loss", 1.234, "tokens", 5.0), m.metrics());
        assertEquals(Map.of("framework", "torch-dcp"), m.metadata());
    }

    @Test
    void eTagsAreKeptInTheQuotedFormWhateverTheWriterSent() {
        Manifest bare = parse(manifest("{'path':'a','size':1,'etag':'0x8DC1'}"));
        Manifest quoted = parse(manifest("{'path':'a','size':1,'etag':'\\'0x8DC1\\''}"));
        assertEquals("\"0x8DC1\"", bare.files().get(0).etag());
        assertEquals("\"0x8DC1\"", quoted.files().get(0).etag());
        assertEquals(bare, quoted);
    }

    @Test
    void aNullOptionalFieldIsTheSameAsAnAbsentOne() {
        Manifest withNulls = parse("{'step':7,'files':[{'path':'a','size':1,'etag':'0x1','sha256':null}],"
                + "'metrics':null,'metadata':null}");
        Manifest without = parse(manifest("{'path':'a','size':1,'etag':'0x1'}"));
        assertEquals(without, withNulls);
        assertArrayEquals(without.canonical(), withNulls.canonical());
    }

    @Test
    void nonFiniteMetricsAreRefusedEvenWhenTheTreeWasBuiltInCode() {
        for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            ObjectNode body = (ObjectNode) node(manifest(file(0)));
            body.putObject("metrics").put("loss", bad);
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> Manifest.fromJson(body, STEP, MAX_FILES), Double.toString(bad));
            assertEquals("metrics.loss", e.target());
            assertEquals(ErrorCodes.INVALID_MANIFEST, e.code());
        }
    }

    @Test
    void theCanonicalFormIsTheSameWhateverTheWritersOrderOfFilesAndKeys() {
        Manifest one = parse("{'step':7,'files':[{'path':'b','size':2,'etag':'0x2'},"
                + "{'path':'a','size':1,'etag':'0x1','sha256':'" + repeat("cd", 32) + "'}],"
                + "'metrics':{'z':1,'a':2.5},'metadata':{'y':'1','b':'2'}}");
        Manifest two = parse("{'metadata':{'b':'2','y':'1'},'metrics':{'a':2.50,'z':1.0},"
                + "'files':[{'sha256':'" + repeat("cd", 32) + "','etag':'\\'0x1\\'','size':1,'path':'a'},"
                + "{'etag':'0x2','path':'b','size':2}],'step':7}");
        assertArrayEquals(one.canonical(), two.canonical());
        assertEquals(j("{'step':7,'files':[{'path':'a','size':1,'etag':'\\'0x1\\'','sha256':'" + repeat("cd", 32)
                + "'},{'path':'b','size':2,'etag':'\\'0x2\\''}],'metrics':{'a':2.5,'z':1.0},"
                + "'metadata':{'b':'2','y':'1'}}"),
                new String(one.canonical(), StandardCharsets.UTF_8));
    }

    @Test
    void differentManifestsHaveDifferentCanonicalForms() {
        Manifest base = parse(manifest(file(0)));
        Manifest otherSize = parse(manifest("{'path':'rank-0/model.bin','size':11,'etag':'0x8DC0001'}"));
        Manifest otherMetric = parse("{'step':7," + files(file(0)) + ",'metrics':{'loss':1}}");
        assertFalse(Arrays.equals(base.canonical(), otherSize.canonical()), "size");
        assertFalse(Arrays.equals(base.canonical(), otherMetric.canonical()), "metrics");
    }

    @Test
    void theStoredCanonicalFormReadsBackAsTheSameManifest() {
        Manifest m = parse("{'step':7," + files(file(2), file(0)) + ",'metrics':{'loss':0.5},"
                + "'metadata':{'framework':'orbax'}}");
        assertEquals(Optional.of(m), Manifest.parseStored(m.canonical(), STEP));
    }

    @Test
    void aStoredManifestIsNotHeldToTheRequestFileLimit() {
        String many = IntStream.range(0, 10_001).mapToObj(ManifestTest::file).collect(Collectors.joining(","));
        Optional<Manifest> m = Manifest.parseStored(j(manifest(many)).getBytes(StandardCharsets.UTF_8), STEP);
        assertEquals(10_001, m.orElseThrow().files().size());
    }

    @Test
    void aStoredManifestThatIsNotValidIsEmpty() {
        assertEquals(Optional.empty(), Manifest.parseStored("{\"step\":".getBytes(StandardCharsets.UTF_8), STEP),
                "not JSON");
        assertEquals(Optional.empty(), Manifest.parseStored(new byte[0], STEP), "empty blob");
        assertEquals(Optional.empty(), Manifest.parseStored(j(manifest("{'path':'../x','size':1,'etag':'0x1'}"))
                .getBytes(StandardCharsets.UTF_8), STEP), "invalid path");
        assertEquals(Optional.empty(), Manifest.parseStored(parse(manifest(file(0))).canonical(), STEP + 1),
                "another step's manifest");
    }
}
