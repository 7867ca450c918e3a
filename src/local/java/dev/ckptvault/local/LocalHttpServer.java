package dev.ckptvault.local;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import dev.ckptvault.error.ErrorBody;
import dev.ckptvault.json.Json;

/**
 * The HTTP side of the local host on 127.0.0.1: function routes under {@code /api} and the Event
 * Grid webhook under {@code /runtime/webhooks/eventgrid}, with function keys checked as Azure
 * does when keys are configured.
 */
public final class LocalHttpServer implements AutoCloseable {
    public static final String ROUTE_PREFIX = "/api";
    /** The Functions host refuses request bodies above 100 MB; so does the local host. */
    static final long MAX_REQUEST_BYTES = 100L * 1024 * 1024;
    private static final Logger LOG = Logger.getLogger(LocalHttpServer.class.getName());

    private final FunctionHost functions;
    private final EventGridWebhook webhook;
    private final KeyPolicy keys;
    private final HttpServer server;
    private final ExecutorService pool;

    public LocalHttpServer(FunctionHost functions, EventGridWebhook webhook, KeyPolicy keys, int port, int threads)
            throws IOException {
        this.functions = functions;
        this.webhook = webhook;
        this.keys = keys;
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 128);
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(pool);
        server.createContext("/", this::handle);
    }

    public void start() {
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            URI uri = exchange.getRequestURI();
            String path = uri.getRawPath();
            Map<String, String> headers = headers(exchange);
            Map<String, String> query = query(uri.getRawQuery());
            String body = readBody(exchange);
            if (body == null) {
                send(exchange, 413, jsonHeaders(), error("BodyTooLarge", "request body exceeds "
                        + MAX_REQUEST_BYTES + " bytes"));
                return;
            }
            if (path.equalsIgnoreCase(EventGridWebhook.PATH) || path.equalsIgnoreCase(EventGridWebhook.PATH + "/")) {
                if (!keys.allows(AuthorizationLevel.ADMIN, presentedKey(headers, query))) {
                    unauthorized(exchange);
                    return;
                }
                EventGridWebhook.Reply r = webhook.handle(exchange.getRequestMethod().toUpperCase(Locale.ROOT),
                        headers, query, body);
                send(exchange, r.status(), r.headers(), r.body());
                return;
            }
            if (!path.equals(ROUTE_PREFIX) && !path.startsWith(ROUTE_PREFIX + "/")) {
                notFound(exchange, path);
                return;
            }
            HttpMethod method;
            try {
                method = HttpMethod.value(exchange.getRequestMethod());
            } catch (IllegalArgumentException | NullPointerException e) {
                send(exchange, 405, jsonHeaders(), error("MethodNotAllowed", "method " + exchange.getRequestMethod()
                        + " is not supported"));
                return;
            }
            List<String> segments = RouteTemplate.pathSegments(path.substring(ROUTE_PREFIX.length()));
            FunctionHost.Resolution resolution = functions.resolve(method, segments);
            if (resolution instanceof FunctionHost.NotFound) {
                notFound(exchange, path);
            } else if (resolution instanceof FunctionHost.MethodNotAllowed na) {
                Map<String, String> h = jsonHeaders();
                h.put("Allow", na.allowed().stream().map(Enum::name).collect(Collectors.joining(", ")));
                send(exchange, 405, h, error("MethodNotAllowed", method + " is not allowed on " + path));
            } else if (resolution instanceof FunctionHost.Found found) {
                if (!keys.allows(found.function().authLevel(), presentedKey(headers, query))) {
                    unauthorized(exchange);
                    return;
                }
                invoke(exchange, found, method, uri, headers, query, body);
            }
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "local host failed on " + exchange.getRequestURI().getPath(), e);
        }
    }

    private void invoke(HttpExchange exchange, FunctionHost.Found found, HttpMethod method, URI uri,
                        Map<String, String> headers, Map<String, String> query, String body) throws IOException {
        URI full = URI.create("http://127.0.0.1:" + port() + uri.getRawPath()
                + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()));
        LocalHttpRequest request = new LocalHttpRequest(method, full, headers, query, body.isEmpty() ? null : body);
        Object result;
        try {
            result = functions.invokeHttp(found.function(), request, found.routeValues());
        } catch (Exception e) {
            String incident = UUID.randomUUID().toString();
            LOG.log(Level.SEVERE, "function " + found.function().name() + " threw; incident " + incident, e);
            send(exchange, 500, jsonHeaders(), error("InternalError", "internal error; incident " + incident
                    + " is in the host's log"));
            return;
        }
        if (result instanceof HttpResponseMessage response) {
            Map<String, String> h = new LinkedHashMap<>();
            if (response instanceof LocalHttpResponse local) {
                h.putAll(local.headers());
            }
            Object b = response.getBody();
            String text = b == null ? "" : b instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8)
                    : b instanceof String s ? s : Json.write(b);
            send(exchange, response.getStatusCode(), h, text);
        } else {
            send(exchange, result == null ? 204 : 200, jsonHeaders(), result == null ? "" : Json.write(result));
        }
    }

    private static String presentedKey(Map<String, String> headers, Map<String, String> query) {
        String h = headers.get("x-functions-key");
        return h != null ? h : query.get("code");
    }

    private static Map<String, String> headers(HttpExchange exchange) {
        Map<String, String> h = new LinkedHashMap<>();
        exchange.getRequestHeaders().forEach((k, v) -> h.put(k.toLowerCase(Locale.ROOT), String.join(",", v)));
        return h;
    }

    static Map<String, String> query(String raw) {
        Map<String, String> q = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return q;
        }
        for (String pair : raw.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            q.putIfAbsent(k, v);
        }
        return q;
    }

    /** The body as text, or null when it exceeds the host's limit. */
    private static String readBody(HttpExchange exchange) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[64 * 1024];
        try (InputStream in = exchange.getRequestBody()) {
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out.size() + (long) n > MAX_REQUEST_BYTES) {
                    return null;
                }
                out.write(buf, 0, n);
            }
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static Map<String, String> jsonHeaders() {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Content-Type", "application/json; charset=utf-8");
        return h;
    }

    private static String error(String code, String message) {
        return Json.write(ErrorBody.of(code, message, null));
    }

    private static void notFound(HttpExchange exchange, String path) throws IOException {
        send(exchange, 404, jsonHeaders(), error("NotFound", "no function serves " + path));
    }

    private static void unauthorized(HttpExchange exchange) throws IOException {
        send(exchange, 401, jsonHeaders(), error("Unauthorized",
                "a valid key is required (x-functions-key header or code query parameter)"));
    }

    private static void send(HttpExchange exchange, int status, Map<String, String> headers, String body)
            throws IOException {
        headers.forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        boolean noBody = bytes.length == 0 || status == 204 || exchange.getRequestMethod().equalsIgnoreCase("HEAD");
        exchange.sendResponseHeaders(status, noBody ? -1 : bytes.length);
        if (!noBody) {
            try (OutputStream os = exchange.getResponseBody()) {
                os.write(bytes);
            }
        }
    }

    @Override
    public void close() {
        server.stop(1);
        pool.shutdown();
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        pool.shutdownNow();
    }
}
