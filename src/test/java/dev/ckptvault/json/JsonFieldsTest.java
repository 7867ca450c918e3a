package dev.ckptvault.json;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The request-JSON field reader and {@link Json#parse}: every error names the full path of its field. */
class JsonFieldsTest {
    static final String CODE = "SomeCode";

    static JsonNode node(String singleQuoted) {
        return Json.parse(singleQuoted.replace('\'', '"'), "test");
    }

    /** The fields of {@code files[3]} inside a body, as a list-validating caller reads them. */
    static JsonFields fourthFile(String entry) {
        JsonNode body = node("{'files':[{},{},{}," + entry + "]}");
        return JsonFields.object(body.get("files").get(3), "files[3]", CODE);
    }

    static Stream<Arguments> typeAndRangeErrors() {
        return Stream.of(
                Arguments.of("required string absent", "{}",
                        (Function<JsonFields, Object>) f -> f.requiredString("path"), "files[3].path", "is required"),
                Arguments.of("required string null", "{'path':null}",
                        (Function<JsonFields, Object>) f -> f.requiredString("path"), "files[3].path", "is required"),
                Arguments.of("string given a number", "{'path':5}",
                        (Function<JsonFields, Object>) f -> f.optionalString("path"), "files[3].path",
                        "must be a string"),
                Arguments.of("string given an object", "{'path':{}}",
                        (Function<JsonFields, Object>) f -> f.requiredString("path"), "files[3].path",
                        "must be a string"),
                Arguments.of("required long absent", "{}",
                        (Function<JsonFields, Object>) f -> f.requiredLong("size", 0, 10), "files[3].size",
                        "is required"),
                Arguments.of("long given a fraction", "{'size':1.5}",
                        (Function<JsonFields, Object>) f -> f.requiredLong("size", 0, 10), "files[3].size",
                        "must be an integer"),
                Arguments.of("long given a string", "{'size':'1'}",
                        (Function<JsonFields, Object>) f -> f.optionalLong("size", 0, 10), "files[3].size",
                        "must be an integer"),
                Arguments.of("long beyond 64 bits", "{'size':18446744073709551616}",
                        (Function<JsonFields, Object>) f -> f.optionalLong("size", 0, Long.MAX_VALUE),
                        "files[3].size", "must be an integer"),
                Arguments.of("long below the minimum", "{'size':-1}",
                        (Function<JsonFields, Object>) f -> f.requiredLong("size", 0, 10), "files[3].size",
                        "must be between 0 and 10"),
                Arguments.of("long above the maximum", "{'size':11}",
                        (Function<JsonFields, Object>) f -> f.optionalLong("size", 0, 10), "files[3].size",
                        "must be between 0 and 10"),
                Arguments.of("boolean given a string", "{'pinned':'true'}",
                        (Function<JsonFields, Object>) f -> f.optionalBoolean("pinned"), "files[3].pinned",
                        "must be true or false"),
                Arguments.of("boolean given a number", "{'pinned':1}",
                        (Function<JsonFields, Object>) f -> f.optionalBoolean("pinned"), "files[3].pinned",
                        "must be true or false"),
                Arguments.of("array absent", "{}", (Function<JsonFields, Object>) f -> f.requiredArray("parts"),
                        "files[3].parts", "is required"),
                Arguments.of("array null", "{'parts':null}",
                        (Function<JsonFields, Object>) f -> f.requiredArray("parts"), "files[3].parts", "is required"),
                Arguments.of("array given an object", "{'parts':{}}",
                        (Function<JsonFields, Object>) f -> f.requiredArray("parts"), "files[3].parts",
                        "must be an array"),
                Arguments.of("object given an array", "{'meta':[]}",
                        (Function<JsonFields, Object>) f -> f.optionalObject("meta"), "files[3].meta",
                        "must be a JSON object"),
                Arguments.of("object given a string", "{'meta':'x'}",
                        (Function<JsonFields, Object>) f -> f.optionalObject("meta"), "files[3].meta",
                        "must be a JSON object"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("typeAndRangeErrors")
    void typeAndRangeErrorsNameTheFullPath(String name, String entry, Function<JsonFields, Object> read,
                                           String target, String problem) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> read.apply(fourthFile(entry)));
        assertEquals(target, e.target());
        assertEquals(CODE, e.code(), "the caller's error code");
        assertEquals(target + " " + problem, e.getMessage());
    }

    @Test
    void presentValuesAreRead() {
        JsonFields f = fourthFile("{'path':'a/b','size':10,'pinned':false,'parts':[1,2],'meta':{'k':'v'}}");
        assertEquals("a/b", f.requiredString("path"));
        assertEquals(Optional.of("a/b"), f.optionalString("path"));
        assertEquals(10, f.requiredLong("size", 10, 10), "the bounds are inclusive");
        assertEquals(Optional.of(false), f.optionalBoolean("pinned"));
        assertEquals(2, f.requiredArray("parts").size());
        assertEquals("v", f.optionalObject("meta").orElseThrow().requiredString("k"));
    }

    @Test
    void theFullLongRangeIsRead() {
        JsonFields f = JsonFields.object(node("{'min':-9223372036854775808,'max':9223372036854775807}"), "", CODE);
        assertEquals(Long.MIN_VALUE, f.requiredLong("min", Long.MIN_VALUE, Long.MAX_VALUE));
        assertEquals(Long.MAX_VALUE, f.requiredLong("max", Long.MIN_VALUE, Long.MAX_VALUE));
    }

    @Test
    void nullIsTreatedAsAbsent() {
        JsonFields f = fourthFile("{'path':null,'size':null,'pinned':null,'meta':null}");
        assertEquals(Optional.empty(), f.optionalString("path"));
        assertEquals(Optional.empty(), f.optionalLong("size", 0, 10));
        assertEquals(Optional.empty(), f.optionalBoolean("pinned"));
        assertEquals(Optional.empty(), f.optionalObject("meta"));
        assertFalse(f.has("path"));
        assertEquals(null, f.get("path"));
        assertFalse(f.has("absent"));
        assertTrue(fourthFile("{'path':'x'}").has("path"));
    }

    @Test
    void nestedObjectsNameTheirFieldsBelowTheParent() {
        JsonFields meta = fourthFile("{'meta':{'inner':{'n':'x'}}}").optionalObject("meta").orElseThrow();
        assertEquals("files[3].meta", meta.path());
        JsonFields inner = meta.optionalObject("inner").orElseThrow();
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> inner.optionalLong("n", 0, 1));
        assertEquals("files[3].meta.inner.n", e.target());
    }

    @Test
    void atTheRootFieldsAreNamedAloneAndANonObjectBodyIsNamedBody() {
        JsonFields root = JsonFields.object(node("{'step':'x'}"), "", CODE);
        assertEquals("step", root.name("step"));
        assertEquals("step", assertThrows(InvalidInputException.class, () -> root.requiredLong("step", 0, 1)).target());
        for (String notAnObject : new String[] {"[]", "1", "'s'", "null", "true"}) {
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> JsonFields.object(node(notAnObject), "", CODE), notAnObject);
            assertEquals("body", e.target());
            assertEquals(CODE, e.code());
        }
        assertEquals("body", assertThrows(InvalidInputException.class,
                () -> JsonFields.object(null, "", CODE)).target(), "no body at all");
    }

    @Test
    void anEntryThatIsNotAnObjectIsNamedByItsIndex() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> JsonFields.object(node("5"), "files[3]", CODE));
        assertEquals("files[3]", e.target());
        assertEquals("files[3] must be a JSON object", e.getMessage());
    }

    @Test
    void anErrorMayCarryAnotherCode() {
        InvalidInputException e = fourthFile("{}").error(ErrorCodes.DUPLICATE_PATH, "path", "repeats files[0].path");
        assertEquals(ErrorCodes.DUPLICATE_PATH, e.code());
        assertEquals("files[3].path", e.target());
        assertEquals("files[3].path repeats files[0].path", e.getMessage());
    }

    // ---- Json.parse ----------------------------------------------------------------------------

    static InvalidInputException parseError(String text) {
        return assertThrows(InvalidInputException.class, () -> Json.parse(text, "body"));
    }

    @Test
    void malformedTextIs400InvalidJsonWithLineAndColumn() {
        InvalidInputException e = parseError("{\n  \"step\": 7,\n  \"files\": [,]\n}");
        assertEquals(ErrorCodes.INVALID_JSON, e.code());
        assertEquals("body", e.target());
        assertTrue(e.getMessage().matches("body is not valid JSON at line 3, column \\d+"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"{\"a\":", "{a:1}", "{'a':1}", "[1,]", "{\"a\":1,}", "nul", "{\"a\":\"\u0001\"}",
            "{\"a\":1} {\"b\":2}", "{\"a\":1} trailing", "[1] ]"})
    void malformedTextIsInvalidJson(String text) {
        assertEquals(ErrorCodes.INVALID_JSON, parseError(text).code());
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"", " ", "\n\t"})
    void emptyTextIsInvalidJson(String text) {
        InvalidInputException e = parseError(text);
        assertEquals(ErrorCodes.INVALID_JSON, e.code());
        assertEquals("body", e.target());
    }

    @Test
    void duplicateKeysAreRefused() {
        InvalidInputException e = parseError("{\"step\":1,\"files\":[],\"step\":2}");
        assertEquals(ErrorCodes.INVALID_JSON, e.code());
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
        assertEquals(ErrorCodes.INVALID_JSON, parseError("{\"files\":[{\"path\":\"a\",\"path\":\"b\"}]}").code(),
                "nested");
    }

    @Test
    void nestingIsLimitedTo64Levels() {
        String ok = "[".repeat(64) + "]".repeat(64);
        assertTrue(Json.parse(ok, "body").isArray());
        String deep = "[".repeat(65) + "]".repeat(65);
        assertEquals(ErrorCodes.INVALID_JSON, parseError(deep).code());
        String deepObjects = "{\"a\":".repeat(1000) + "1" + "}".repeat(1000);
        assertEquals(ErrorCodes.INVALID_JSON, parseError(deepObjects).code());
    }

    @Test
    void overlongNumbersAreRefused() {
        assertEquals(ErrorCodes.INVALID_JSON, parseError("{\"size\":" + "9".repeat(100) + "}").code());
    }

    @Test
    void theTargetNamesWhatWasParsed() {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Json.parse("{", "manifest"));
        assertEquals("manifest", e.target());
        assertTrue(e.getMessage().startsWith("manifest "), e.getMessage());
    }
}
