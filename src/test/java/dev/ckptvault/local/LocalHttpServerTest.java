package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LocalHttpServerTest {
    static final long CAP = 64 * 1024;
    static LocalServers keyed;
    static LocalServers devbox;

    @BeforeAll
    static void start() throws Exception {
        keyed = LocalServers.with(LocalServers.KEYS, HostPolicy.LOOPBACK_ONLY, CAP, new TestFunctions.Checkpoints(),
                new TestFunctions.BlobEvents());
        devbox = LocalServers.with(LocalServers.KEYS, HostPolicy.loopbackAnd(List.of("devbox")), CAP,
                new TestFunctions.Checkpoints());
    }

    @AfterAll
    static void stop() {
        keyed.close();
        devbox.close();
    }

    private static JsonNode json(HttpResponse<String> r) {
        return Json.parse(r.body(), "response");
    }

    /** What came back on a raw connection: status, headers (lower-case names), body. */
    record Raw(int status, Map<String, String> headers, String body) {
        JsonNode json() {
            return Json.parse(body, "response");
        }
    }

    /** Writes {@code request} byte for byte on its own connection and reads the one answer. */
    static Raw raw(LocalServers s, byte[] request) throws IOException {
        try (Socket socket = new Socket("127.0.0.1", s.server.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(request);
            out.flush();
            return readAnswer(socket.getInputStream());
        }
    }

    static Raw raw(LocalServers s, String requestLine, String... headerLines) throws IOException {
        StringBuilder b = new StringBuilder(requestLine).append("\r\n");
        for (String h : headerLines) {
            b.append(h).append("\r\n");
        }
        b.append("Connection: close\r\n\r\n");
        return raw(s, b.toString().getBytes(StandardCharsets.ISO_8859_1));
    }

    static Raw readAnswer(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int c;
        while ((c = in.read()) >= 0) {
            head.write(c);
            byte[] h = head.toByteArray();
            int n = h.length;
            if (n >= 4 && h[n - 4] == '\r' && h[n - 3] == '\n' && h[n - 2] == '\r' && h[n - 1] == '\n') {
                break;
            }
        }
        String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
            }
        }
        int length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
        byte[] body = in.readNBytes(length);
        return new Raw(status, headers, new String(body, StandardCharsets.UTF_8));
    }

    @Test
    void routeValuesQueryValuesAndTheBodyReachTheFunctionOverHttp() throws Exception {
        HttpResponse<String> r = keyed.send("GET", "/api/runs/llama%2D7b/checkpoints/1200?downloads=true&code=fkey", null);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode bound = json(r).get("bound");
        assertEquals("llama-7b", bound.get("runId").asText());
        assertEquals("1200", bound.get("step").asText());
        assertEquals("true", bound.get("downloads").asText());
        assertEquals("GetCheckpoint", bound.get("function").asText(), "ExecutionContext names the function");

        HttpResponse<String> latest = keyed.send("GET", "/api/runs/r1/checkpoints/latest?code=fkey", null);
        assertEquals("Latest", json(latest).get("function").asText());

        HttpResponse<String> commit = keyed.send("POST", "/api/runs/r1/checkpoints/5/commit?code=fkey", "{\"step\":5}",
                "Content-Type", "application/json");
        assertEquals("{\"step\":5}", json(commit).get("bound").get("body").asText());
        assertTrue(commit.headers().firstValue("content-type").orElse("").startsWith("application/json"));
    }

    @Test
    void unknownPathsAnswer404JsonAndWrongMethods405() throws Exception {
        HttpResponse<String> missing = keyed.send("GET", "/api/runs/r1/checkpoints/twelve", null);
        assertEquals(404, missing.statusCode());
        assertEquals("NotFound", json(missing).get("error").get("code").asText());
        assertEquals(404, keyed.send("GET", "/elsewhere", null).statusCode());

        HttpResponse<String> wrong = keyed.send("PUT", "/api/runs/r1/checkpoints/12", "{}");
        assertEquals(405, wrong.statusCode());
        assertTrue(wrong.headers().firstValue("allow").orElse("").contains("GET"));
    }

    @Test
    void functionRoutesNeedTheFunctionOrAdminKey() throws Exception {
        assertEquals(401, keyed.send("GET", "/api/runs/r/checkpoints/1", null).statusCode());
        assertEquals(401, keyed.send("GET", "/api/runs/r/checkpoints/1?code=wrong", null).statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1", null, "x-functions-key", "fkey").statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1?code=fkey", null).statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1?code=akey", null).statusCode());
    }

    @Test
    void adminRoutesAndTheWebhookNeedTheAdminKeyAndAnonymousRoutesNone() throws Exception {
        HttpResponse<String> refused = keyed.send("DELETE", "/api/runs/r/checkpoints/1", null, "x-functions-key", "fkey");
        assertEquals(401, refused.statusCode());
        assertEquals("Unauthorized", json(refused).get("error").get("code").asText());
        assertEquals(401, keyed.send("DELETE", "/api/runs/r/checkpoints/1", null).statusCode());
        assertEquals(200, keyed.send("DELETE", "/api/runs/r/checkpoints/1", null, "x-functions-key", "akey").statusCode());
        assertEquals(200, keyed.send("GET", "/api/ping", null).statusCode());

        String hook = EventGridWebhook.PATH + "?functionName=BlobEvents";
        assertEquals(401, keyed.send("OPTIONS", hook, null).statusCode());
        assertEquals(401, keyed.send("OPTIONS", hook + "&code=fkey", null).statusCode());
        assertEquals(200, keyed.send("OPTIONS", hook + "&code=akey", null).statusCode());
    }

    /**
     * Request lines com.sun.net.httpserver refused with text/html "400 Bad Request ...
     * URISyntaxException" before any handler ran; the local host answers every one in JSON.
     */
    @ParameterizedTest
    @ValueSource(strings = {"/api/%", "/api/%zz", "/api/a%2", "/api/a\\b", "/api/a\u0000b", "/api/runs/%/checkpoints",
            "/api/runs/x%2Fy", "/api/%00", "/api/runs/r/checkpoints/1?code=%zz", "/api/runs/r/checkpoints/1?%"})
    void requestLinesThatCannotBeParsedGetJson400(String target) throws Exception {
        Raw r = raw(keyed, "GET " + target + " HTTP/1.1", "Host: 127.0.0.1");
        assertEquals(400, r.status(), target + ": " + r.body());
        assertTrue(r.headers().getOrDefault("content-type", "").startsWith("application/json"),
                target + ": " + r.headers());
        JsonNode error = r.json().get("error");
        assertEquals("BadRequest", error.get("code").asText(), r.body());
        assertFalse(r.body().contains("<html") || r.body().contains("Exception"), r.body());
    }

    @ParameterizedTest
    @ValueSource(strings = {"GARBAGE", "GET", "GET /api/ping", "GET /api/ping HTTP/1.1 extra", "GET /api/ping HTTP/7.0",
            " GET /api/ping HTTP/1.1", "GET /api/ping HTTP/1.1\u0000"})
    void malformedRequestLinesGetAJsonError(String line) throws Exception {
        Raw r = raw(keyed, line, "Host: 127.0.0.1");
        assertTrue(r.status() == 400 || r.status() == 505, line + ": " + r.status());
        assertTrue(r.headers().getOrDefault("content-type", "").startsWith("application/json"), line + ": " + r.headers());
        assertTrue(r.json().get("error").hasNonNull("code"), r.body());
    }

    @Test
    void aWellFormedRawRequestIsServed() throws Exception {
        Raw r = raw(keyed, "GET /api/ping HTTP/1.1", "Host: 127.0.0.1");
        assertEquals(200, r.status(), r.body());
        assertEquals("Ping", r.json().get("function").asText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "127.0.0.1:7071", "localhost", "LOCALHOST:80", "[::1]", "[::1]:8080"})
    void loopbackHostNamesAreAnswered(String host) throws Exception {
        assertEquals(200, raw(keyed, "GET /api/ping HTTP/1.1", "Host: " + host).status(), host);
    }

    /** DNS rebinding: a web page of evil.example reaches 127.0.0.1 but still says Host: evil.example. */
    @ParameterizedTest
    @ValueSource(strings = {"evil.example", "evil.example:7071", "localhost.evil.example", "127.0.0.1.nip.io",
            "devbox", "[::2]", "localhost."})
    void otherHostNamesGet421Json(String host) throws Exception {
        Raw r = raw(keyed, "GET /api/ping HTTP/1.1", "Host: " + host);
        assertEquals(421, r.status(), host + ": " + r.body());
        assertEquals("HostNotAllowed", r.json().get("error").get("code").asText());
        Raw admin = raw(keyed, "DELETE /api/runs/r/checkpoints/1 HTTP/1.1", "Host: " + host, "x-functions-key: akey");
        assertEquals(421, admin.status(), "even with the admin key");
    }

    @Test
    void aMalformedHostHeaderIsRefusedInJson() throws Exception {
        Raw r = raw(keyed, "GET /api/ping HTTP/1.1", "Host: 127.0.0.1:x");
        assertEquals(400, r.status(), r.body());
        assertEquals("BadRequest", r.json().get("error").get("code").asText());
    }

    @Test
    void anHttp10RequestWithoutHostIsRefused() throws Exception {
        Raw r = raw(keyed, "GET /api/ping HTTP/1.0");
        assertEquals(421, r.status(), r.body());
    }

    @Test
    void allowHostAddsANameAndKeepsLoopback() throws Exception {
        assertEquals(200, raw(devbox, "GET /api/ping HTTP/1.1", "Host: devbox:7071").status());
        assertEquals(200, raw(devbox, "GET /api/ping HTTP/1.1", "Host: localhost").status());
        assertEquals(421, raw(devbox, "GET /api/ping HTTP/1.1", "Host: evil.example").status());
    }

    @Test
    void aDeclaredBodyOverTheCapIs413BeforeAnyOfItIsSent() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", keyed.server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(("POST /api/runs/r/checkpoints/5/commit?code=fkey HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nContent-Length: " + (100L * 1024 * 1024 * 1024) + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            Raw r = readAnswer(socket.getInputStream());
            assertEquals(413, r.status(), r.body());
            assertEquals("BodyTooLarge", r.json().get("error").get("code").asText());
            assertEquals("body", r.json().get("error").get("target").asText());
            assertEquals("close", r.headers().get("connection"));
        }
    }

    /** A chunked body has no declared length: the cap applies while it streams, and the answer comes mid-body. */
    @Test
    void aStreamedBodyIsCutOffAsSoonAsItPassesTheCap() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", keyed.server.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            out.write(("POST /api/runs/r/checkpoints/5/commit?code=fkey HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            byte[] chunk = new byte[8 * 1024];
            java.util.Arrays.fill(chunk, (byte) 'a');
            long sent = 0;
            Raw answer = null;
            // Send just past the cap and no terminating chunk: the body never ends, the answer must not wait for it.
            while (sent <= CAP) {
                out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                out.write(chunk);
                out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                sent += chunk.length;
            }
            out.flush();
            try {
                answer = readAnswer(socket.getInputStream());
            } catch (SocketTimeoutException e) {
                throw new AssertionError("no answer after " + sent + " bytes of a body capped at " + CAP, e);
            }
            assertEquals(413, answer.status(), answer.body());
            assertEquals("BodyTooLarge", answer.json().get("error").get("code").asText());
        }
    }

    @Test
    void aBodyUpToTheCapReachesTheFunction() throws Exception {
        String body = "{\"pad\":\"" + "x".repeat((int) CAP - 20) + "\"}";
        assertTrue(body.length() <= CAP);
        HttpResponse<String> r = keyed.send("POST", "/api/runs/r1/checkpoints/5/commit?code=fkey", body,
                "Content-Type", "application/json");
        assertEquals(200, r.statusCode(), r.body().substring(0, Math.min(200, r.body().length())));
        assertEquals(body, json(r).get("bound").get("body").asText());
    }
}
