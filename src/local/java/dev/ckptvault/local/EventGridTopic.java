package dev.ckptvault.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;

/**
 * A custom Event Grid topic as infra/ makes it (Event Grid schema in, local auth off, the app's
 * identity as EventGrid Data Sender), speaking the documented publish protocol: HTTPS POST of a
 * JSON array of events to {@code /api/events?api-version=2018-01-01}; 200 on success; errors as
 * {@code {"error":{"code","message","details":[...]}}} with 400 (format), 401 (authorization),
 * 404 (path), 413 (more than 1 MB).
 *
 * <p>A request is authorized only by a bearer token that this start's token service issued
 * ({@link TokenIssuer}: signature, lifetime), whose audience is Event Grid's
 * ({@code https://eventgrid.azure.net}) and that names the sender identity ({@code oid} and
 * {@code appid}). Access keys and SAS tokens are refused, since the topic has local auth off.
 * Accepted events are kept in order and appended, one JSON document a line, to the events file.
 */
public final class EventGridTopic implements AutoCloseable {
    public static final String PATH = "/api/events";
    public static final String API_VERSION = "2018-01-01";
    public static final String AUDIENCE = "https://eventgrid.azure.net";
    static final int MAX_BYTES = 1024 * 1024;
    private static final Logger LOG = Logger.getLogger(EventGridTopic.class.getName());

    private final TokenIssuer issuer;
    private final LocalIdentity sender;
    private final Path eventsFile;
    private final HttpsServer server;
    private final ExecutorService threads;
    private final List<JsonNode> received = new CopyOnWriteArrayList<>();
    private final Object fileLock = new Object();

    /** @param eventsFile where accepted events are appended (JSON lines), or null to keep them in memory only */
    public EventGridTopic(SSLContext tls, TokenIssuer issuer, LocalIdentity sender, Path eventsFile) throws IOException {
        this.issuer = issuer;
        this.sender = sender;
        this.eventsFile = eventsFile;
        this.server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.setHttpsConfigurator(new HttpsConfigurator(tls));
        this.threads = ManagedIdentityEndpoint.serve(server, "eventgrid-topic", this::handle);
    }

    /** The topic endpoint, as {@code topic.properties.endpoint} gives it in Azure. */
    public URI endpoint() {
        return URI.create("https://127.0.0.1:" + server.getAddress().getPort() + PATH);
    }

    /** Every event accepted so far, in order. */
    public List<JsonNode> received() {
        return List.copyOf(received);
    }

    public Optional<Path> eventsFile() {
        return Optional.ofNullable(eventsFile);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestURI().getPath().equals(PATH)) {
                error(ex, 404, "The topic endpoint is " + PATH + ".");
                return;
            }
            if (!ex.getRequestMethod().equals("POST")) {
                error(ex, 405, "Publish with POST.");
                return;
            }
            Map<String, String> q;
            try {
                q = LocalHttpServer.query(ex.getRequestURI().getRawQuery());
            } catch (IllegalArgumentException e) {
                error(ex, 400, "Malformed query string.");
                return;
            }
            if (!API_VERSION.equals(q.get("api-version"))) {
                error(ex, 400, "The api-version query parameter must be " + API_VERSION + ".");
                return;
            }
            String unauthorized = unauthorized(ex);
            if (unauthorized != null) {
                LOG.warning("event grid topic: refused a publish: " + unauthorized);
                error(ex, 401, unauthorized);
                return;
            }
            byte[] body = readCapped(ex.getRequestBody());
            if (body == null) {
                error(ex, 413, "The events exceed " + MAX_BYTES + " bytes.");
                return;
            }
            List<JsonNode> events = new ArrayList<>();
            String invalid = validate(body, events);
            if (invalid != null) {
                error(ex, 400, invalid);
                return;
            }
            keep(events);
            ex.sendResponseHeaders(200, -1);
        }
    }

    /** Why the request is not authorized, or null. */
    private String unauthorized(HttpExchange ex) {
        if (ex.getRequestHeaders().containsKey("aeg-sas-key") || ex.getRequestHeaders().containsKey("aeg-sas-token")) {
            return "Local authentication (access keys, SAS tokens) is disabled for this topic; "
                    + "publish with a Microsoft Entra token.";
        }
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return "The request has no bearer token.";
        }
        Optional<JsonNode> claims = issuer.verify(auth.substring(7).trim());
        if (claims.isEmpty()) {
            return "The bearer token was not issued by this environment's token service or is expired.";
        }
        JsonNode c = claims.get();
        String aud = c.path("aud").asText();
        if (!aud.equals(AUDIENCE) && !aud.equals(AUDIENCE + "/")) {
            return "The token's audience is '" + aud + "', not " + AUDIENCE + ".";
        }
        if (!sender.principalId().equals(c.path("oid").asText()) || !sender.clientId().equals(c.path("appid").asText())) {
            return "The token's identity (oid " + c.path("oid").asText() + ") is not the topic's EventGrid Data Sender.";
        }
        return null;
    }

    private static byte[] readCapped(InputStream in) throws IOException {
        byte[] data = in.readNBytes(MAX_BYTES + 1);
        if (data.length > MAX_BYTES) {
            // Read the rest (up to 64 MB), so the client sees the 413 rather than a reset connection.
            byte[] sink = new byte[64 * 1024];
            long left = 64L * 1024 * 1024;
            int n;
            while (left > 0 && (n = in.read(sink, 0, (int) Math.min(sink.length, left))) > 0) {
                left -= n;
            }
            return null;
        }
        return data;
    }

    /** Event Grid schema: a JSON array of events with id, subject, eventType, eventTime, data, dataVersion. */
    static String validate(byte[] body, List<JsonNode> into) {
        JsonNode array;
        try {
            array = Json.parse(new String(body, StandardCharsets.UTF_8), "body");
        } catch (RuntimeException e) {
            return "The body is not valid JSON.";
        }
        if (!array.isArray() || array.isEmpty()) {
            return "The body must be a non-empty JSON array of events in the Event Grid schema.";
        }
        for (int i = 0; i < array.size(); i++) {
            JsonNode e = array.get(i);
            if (!e.isObject()) {
                return "events[" + i + "] is not an object.";
            }
            for (String field : List.of("id", "subject", "eventType", "eventTime", "dataVersion")) {
                if (!e.path(field).isTextual() || e.path(field).asText().isEmpty()) {
                    return "events[" + i + "]." + field + " is required (a non-empty string).";
                }
            }
            if (!e.has("data")) {
                return "events[" + i + "].data is required.";
            }
            if (e.has("topic")) {
                return "events[" + i + "].topic is set by Event Grid, not by the publisher.";
            }
            try {
                OffsetDateTime.parse(e.get("eventTime").asText());
            } catch (DateTimeParseException ex) {
                return "events[" + i + "].eventTime is not an ISO-8601 date-time.";
            }
            into.add(e);
        }
        return null;
    }

    private void keep(List<JsonNode> events) throws IOException {
        synchronized (fileLock) {
            if (eventsFile != null) {
                StringBuilder lines = new StringBuilder();
                for (JsonNode e : events) {
                    lines.append(Json.write(e)).append('\n');
                }
                Files.writeString(eventsFile, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
            }
            received.addAll(events);
        }
        for (JsonNode e : events) {
            LOG.info("event grid topic: accepted " + e.get("eventType").asText() + " " + e.get("subject").asText()
                    + " (id " + e.get("id").asText() + ")");
        }
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("code", Integer.toString(status));
        detail.put("message", message);
        Map<String, Object> error = new LinkedHashMap<>(detail);
        error.put("details", List.of(detail));
        byte[] body = Json.bytes(Map.of("error", error));
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
