package dev.ckptvault.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.core.exception.HttpResponseException;
import com.azure.core.http.HttpHeaders;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import dev.ckptvault.error.ApiException;
import dev.ckptvault.error.BodyTooLargeException;
import dev.ckptvault.error.ConflictException;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.ForbiddenException;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.error.NotFoundException;
import dev.ckptvault.error.StorageUnavailableException;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;

/** {@link HttpApi} and {@link ErrorMapper}: what every function answers, whatever its service did. */
class HttpApiTest {
    static final int LIMIT = 64;
    static final HttpApi API = new HttpApi(LIMIT);
    static final Pattern INCIDENT = Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** What HttpApi logs, kept off the console: the expected failures here would print stack traces. */
    final List<LogRecord> logged = new CopyOnWriteArrayList<>();
    final Logger log = Logger.getLogger(HttpApi.class.getName());
    final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r);
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void captureTheLog() {
        log.addHandler(capture);
        log.setUseParentHandlers(false);
    }

    @AfterEach
    void restoreTheLog() {
        log.removeHandler(capture);
        log.setUseParentHandlers(true);
    }

    static LocalHttpRequest post(String body) {
        return LocalHttpRequest.of(HttpMethod.POST, "/api/runs/r/checkpoints/1/commit", Map.of(), body);
    }

    static LocalHttpResponse respond(Supplier<ApiResult> action) {
        return (LocalHttpResponse) API.respond(post("{}"), action);
    }

    /** The answer when the action reads the request's body. */
    static LocalHttpResponse withBody(String body) {
        LocalHttpRequest req = post(body);
        return (LocalHttpResponse) API.respond(req, () -> ApiResult.ok(API.body(req)));
    }

    static JsonNode error(LocalHttpResponse r) {
        JsonNode error = Json.parse(r.bodyText(), "response").get("error");
        assertNotNull(error, r.bodyText());
        return error;
    }

    static Stream<Arguments> apiExceptions() {
        return Stream.of(
                Arguments.of(new InvalidInputException(ErrorCodes.INVALID_STEP, "step is bad", "step"), 400),
                Arguments.of(new ForbiddenException("AuthorizationFailed", "needs a role", "bootstrap"), 403),
                Arguments.of(new NotFoundException(ErrorCodes.NO_COMMITTED_CHECKPOINT, "none yet", "runId"), 404),
                Arguments.of(new ConflictException(ErrorCodes.MANIFEST_CONFLICT, "differs", "body"), 409),
                Arguments.of(new BodyTooLargeException(LIMIT), 413),
                Arguments.of(new StorageUnavailableException("storage unavailable", null), 503));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("apiExceptions")
    void eachApiExceptionAnswersItsStatusWithTheErrorShape(ApiException e, int status) {
        assertEquals(status, ErrorMapper.status(e));
        LocalHttpResponse r = respond(() -> {
            throw e;
        });
        assertEquals(status, r.getStatusCode(), r.bodyText());
        assertTrue(r.getHeader("Content-Type").startsWith("application/json"), r.headers().toString());
        JsonNode error = error(r);
        assertEquals(e.code(), error.get("code").asText());
        assertEquals(e.getMessage(), error.get("message").asText());
        if (e.target() == null) {
            assertFalse(error.has("target"), "no target field when there is none");
        } else {
            assertEquals(e.target(), error.get("target").asText());
        }
        assertEquals(status == 503, r.getHeader("Retry-After") != null, "Retry-After only with 503");
    }

    @Test
    void aResultIsAnsweredAsJsonWithItsStatusAndNotCached() {
        LocalHttpResponse r = respond(() -> ApiResult.of(202, Map.of("state", "COMMITTING")));
        assertEquals(202, r.getStatusCode());
        assertEquals("COMMITTING", Json.parse(r.bodyText(), "r").get("state").asText());
        assertTrue(r.getHeader("Content-Type").startsWith("application/json"));
        assertEquals("no-store", r.getHeader("Cache-Control"));
    }

    // ---- the body ---------------------------------------------------------------------------

    /** A JSON object whose one string is {@code unit} repeated {@code count} times: 8 bytes plus the string's. */
    static String bodyOf(String unit, int count) {
        return "{\"k\":\"" + unit.repeat(count) + "\"}";
    }

    static int utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    @Test
    void aBodyOfExactlyTheLimitIsRead() {
        String ascii = bodyOf("x", LIMIT - 8);
        assertEquals(LIMIT, utf8(ascii));
        LocalHttpResponse r = withBody(ascii);
        assertEquals(200, r.getStatusCode(), r.bodyText());
        assertEquals("x".repeat(LIMIT - 8), Json.parse(r.bodyText(), "r").get("k").asText());
    }

    static Stream<Arguments> overTheLimit() {
        return Stream.of(
                Arguments.of("ASCII, one byte over", bodyOf("x", LIMIT - 7)),
                Arguments.of("2-byte characters, fewer chars than the limit", bodyOf("\u00e9", 29)),
                Arguments.of("3-byte characters", bodyOf("\u20ac", 19)),
                Arguments.of("4-byte characters (surrogate pairs)", bodyOf("\ud83d\ude00", 15)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("overTheLimit")
    void aBodyOverTheLimitIs413EvenWhenItHasFewerCharactersThanBytes(String name, String body) {
        assertTrue(utf8(body) > LIMIT && utf8(body) <= LIMIT + 4, "the case is just over: " + utf8(body));
        LocalHttpResponse r = withBody(body);
        assertEquals(413, r.getStatusCode(), r.bodyText());
        assertEquals(ErrorCodes.BODY_TOO_LARGE, error(r).get("code").asText());
        assertEquals("body", error(r).get("target").asText());
    }

    @Test
    void multiByteBodiesAtTheLimitAreRead() {
        for (String body : List.of(bodyOf("\u00e9", 28), bodyOf("\ud83d\ude00", 14))) {
            assertEquals(LIMIT, utf8(body));
            assertEquals(200, withBody(body).getStatusCode(), body);
        }
    }

    @ParameterizedTest(name = "\"{0}\"")
    @ValueSource(strings = {"", " ", "\r\n"})
    void anEmptyBodyIs400InvalidJson(String body) {
        LocalHttpResponse r = withBody(body);
        assertEquals(400, r.getStatusCode());
        assertEquals(ErrorCodes.INVALID_JSON, error(r).get("code").asText());
        assertEquals("body", error(r).get("target").asText());
    }

    @Test
    void noBodyAtAllIs400InvalidJson() {
        LocalHttpRequest req = LocalHttpRequest.of(HttpMethod.POST, "/api/x", Map.of(), null);
        LocalHttpResponse r = (LocalHttpResponse) API.respond(req, () -> ApiResult.ok(API.body(req)));
        assertEquals(400, r.getStatusCode());
        assertEquals(ErrorCodes.INVALID_JSON, error(r).get("code").asText());
    }

    @Test
    void malformedBodyIs400InvalidJsonNotA500() {
        LocalHttpResponse r = withBody("{\"step\":");
        assertEquals(400, r.getStatusCode());
        assertEquals(ErrorCodes.INVALID_JSON, error(r).get("code").asText());
    }

    // ---- failures nobody expected ------------------------------------------------------------

    @Test
    void anUnexpectedFailureIs500WithAnIncidentIdAndNothingOfTheException() {
        IllegalStateException boom = new IllegalStateException("AccountKey=c2VjcmV0 leaked in a message");
        LocalHttpResponse r = respond(() -> {
            throw boom;
        });
        assertEquals(500, r.getStatusCode());
        assertTrue(r.getHeader("Content-Type").startsWith("application/json"));
        JsonNode error = error(r);
        assertEquals("InternalError", error.get("code").asText());
        Matcher m = INCIDENT.matcher(error.get("message").asText());
        assertTrue(m.find(), "an incident id: " + r.bodyText());
        String incident = m.group();
        for (String leak : List.of("AccountKey", "c2VjcmV0", "IllegalStateException", "at dev.ckptvault", "\tat ",
                "HttpApiTest")) {
            assertFalse(r.bodyText().contains(leak), "the body shows " + leak + ": " + r.bodyText());
        }
        assertNull(r.getHeader("Retry-After"));

        // The operator finds the failure by the id the caller reports.
        LogRecord record = logged.stream().filter(l -> l.getMessage().contains(incident)).findFirst().orElseThrow();
        assertEquals(Level.SEVERE, record.getLevel());
        assertSame(boom, record.getThrown());
    }

    @Test
    void twoFailuresGetTwoIncidentIds() {
        Supplier<ApiResult> fail = () -> {
            throw new IllegalArgumentException("x");
        };
        String one = error(respond(fail)).get("message").asText();
        String two = error(respond(fail)).get("message").asText();
        assertFalse(one.equals(two), one);
    }

    /** An SDK answer with only a status: what an HttpResponseException carries. */
    static HttpResponseException sdkError(int status) {
        HttpResponse response = new HttpResponse(new HttpRequest(com.azure.core.http.HttpMethod.GET,
                "http://127.0.0.1:10000/devstoreaccount1/checkpoints")) {
            @Override
            public int getStatusCode() {
                return status;
            }

            @Override
            public String getHeaderValue(String name) {
                return null;
            }

            @Override
            public HttpHeaders getHeaders() {
                return new HttpHeaders();
            }

            @Override
            public Flux<ByteBuffer> getBody() {
                return Flux.empty();
            }

            @Override
            public Mono<byte[]> getBodyAsByteArray() {
                return Mono.empty();
            }

            @Override
            public Mono<String> getBodyAsString() {
                return Mono.empty();
            }

            @Override
            public Mono<String> getBodyAsString(Charset charset) {
                return Mono.empty();
            }
        };
        return new HttpResponseException("Status code " + status + ", ServerBusy", response);
    }

    static Stream<Arguments> transientFailures() {
        return Stream.of(
                Arguments.of("SDK 503", sdkError(503)),
                Arguments.of("SDK 500", sdkError(500)),
                Arguments.of("SDK 429 throttled", sdkError(429)),
                Arguments.of("SDK 408 timeout", sdkError(408)),
                Arguments.of("SDK 503 wrapped", new RuntimeException("listing failed", sdkError(503))),
                Arguments.of("IOException cause", new UncheckedIOException(new IOException("connection reset"))),
                Arguments.of("connect refused, wrapped twice",
                        new RuntimeException(new IllegalStateException(new ConnectException("refused")))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transientFailures")
    void aTransientStorageFailureIs503StorageUnavailableWithRetryAfter(String name, RuntimeException failure) {
        LocalHttpResponse r = respond(() -> {
            throw failure;
        });
        assertEquals(503, r.getStatusCode(), r.bodyText());
        assertEquals(ErrorCodes.STORAGE_UNAVAILABLE, error(r).get("code").asText());
        assertNotNull(r.getHeader("Retry-After"));
        assertTrue(Integer.parseInt(r.getHeader("Retry-After")) > 0);
        assertFalse(r.bodyText().contains("ServerBusy") || r.bodyText().contains("connection reset")
                || r.bodyText().contains("127.0.0.1"), "no detail of the failure: " + r.bodyText());
    }

    @ParameterizedTest(name = "SDK {0}")
    @ValueSource(ints = {400, 403, 404, 409, 412})
    void anUnexpectedStorageClientErrorIsNotMistakenForAnOutage(int status) {
        LocalHttpResponse r = respond(() -> {
            throw sdkError(status);
        });
        assertEquals(500, r.getStatusCode(), "a bug to find by incident id, not a retry: " + r.bodyText());
        assertNull(r.getHeader("Retry-After"));
    }

    @Test
    void anApiExceptionOfAnUnmappedTypeIsA500() {
        ApiException unmapped = new ApiException("Odd", "odd", null, null) {
        };
        assertEquals(500, ErrorMapper.status(unmapped));
    }
}
