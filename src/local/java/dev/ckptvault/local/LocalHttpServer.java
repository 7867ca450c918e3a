package dev.ckptvault.local;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import dev.ckptvault.error.ErrorBody;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The HTTP side of the local host on 127.0.0.1: function routes under {@code /api} and the Event
 * Grid webhook under {@code /runtime/webhooks/eventgrid}, with keys checked as Azure's host does.
 *
 * <p>Built on Jetty (a developer tool, never deployed) because every answer must be the app's JSON
 * error shape, whatever arrives: requests Jetty's parser refuses (a bad percent-escape, a raw
 * backslash or NUL in the path, a malformed request line) are answered by {@link #jsonErrors},
 * where the JDK's server answers HTML from inside itself. Before anything else a request must
 * name an allowed Host ({@link HostPolicy}, against DNS rebinding) and its body is read with a
 * cap: 413 as soon as it is passed, never after reading the rest. Plain HTTP by default; HTTPS
 * when given a TLS context, as the Functions host in Azure serves (Azure mode).
 */
public final class LocalHttpServer implements AutoCloseable {
    public static final String ROUTE_PREFIX = "/api";
    /** The Functions host refuses request bodies above 100 MB; so does the local host by default. */
    static final long MAX_REQUEST_BYTES = 100L * 1024 * 1024;
    private static final Logger LOG = Logger.getLogger(LocalHttpServer.class.getName());

    private final FunctionHost functions;
    private final EventGridWebhook webhook;
    private final KeyPolicy keys;
    private final HostPolicy hosts;
    private final long maxBodyBytes;
    private final Server server;
    private final ServerConnector connector;
    private final String scheme;

    public LocalHttpServer(FunctionHost functions, EventGridWebhook webhook, KeyPolicy keys, int port, int threads)
            throws IOException {
        this(functions, webhook, keys, HostPolicy.LOOPBACK_ONLY, port, threads, MAX_REQUEST_BYTES);
    }

    /** @param maxBodyBytes the largest request body read; more is answered 413 while it arrives */
    public LocalHttpServer(FunctionHost functions, EventGridWebhook webhook, KeyPolicy keys, HostPolicy hosts,
                           int port, int threads, long maxBodyBytes) throws IOException {
        this(functions, webhook, keys, hosts, port, threads, maxBodyBytes, null);
    }

    /**
     * @param tls serves HTTPS with this context (the Functions host in Azure answers HTTPS only), or
     *            null for plain HTTP
     */
    public LocalHttpServer(FunctionHost functions, EventGridWebhook webhook, KeyPolicy keys, HostPolicy hosts,
                           int port, int threads, long maxBodyBytes, SSLContext tls) throws IOException {
        this.functions = functions;
        this.webhook = webhook;
        this.keys = keys;
        this.hosts = hosts;
        this.maxBodyBytes = maxBodyBytes;
        QueuedThreadPool pool = new QueuedThreadPool(threads + 4, 2);
        pool.setName("http");
        pool.setDaemon(true);
        pool.setReservedThreads(0);
        this.server = new Server(pool);
        HttpConfiguration config = new HttpConfiguration();
        config.setSendServerVersion(false);
        config.setSendXPoweredBy(false);
        if (tls == null) {
            this.scheme = "http";
            this.connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(config));
        } else {
            this.scheme = "https";
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setSslContext(tls);
            SecureRequestCustomizer secure = new SecureRequestCustomizer();
            // Clients reach it by IP (127.0.0.1), for which TLS sends no server name to check.
            secure.setSniHostCheck(false);
            config.addCustomizer(secure);
            this.connector = new ServerConnector(server, 1, 1,
                    new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()), new HttpConnectionFactory(config));
        }
        connector.setHost(InetAddress.getLoopbackAddress().getHostAddress());
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) {
                serve(request, response, callback);
                return true;
            }
        });
        server.setErrorHandler(LocalHttpServer::jsonErrors);
        // Bound now, so port() is known before start() (as with the JDK server this replaces).
        connector.open();
    }

    public void start() {
        try {
            server.start();
        } catch (Exception e) {
            throw new IllegalStateException("the local HTTP server did not start: " + e.getMessage(), e);
        }
    }

    public int port() {
        return connector.getLocalPort();
    }

    /** {@code http} or {@code https}. */
    public String scheme() {
        return scheme;
    }

    /** Answers what Jetty refuses before any handler runs (and its other errors) in the app's JSON shape. */
    private static boolean jsonErrors(Request request, Response response, Callback callback) {
        Object status = request.getAttribute(ErrorHandler.ERROR_STATUS);
        int code = status instanceof Integer i ? i : response.getStatus();
        Object message = request.getAttribute(ErrorHandler.ERROR_MESSAGE);
        String text = message == null ? "request refused by the local host (HTTP " + code + ")" : message.toString();
        response.setStatus(code);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        response.write(true, ByteBuffer.wrap(error(errorCode(code), text).getBytes(StandardCharsets.UTF_8)), callback);
        return true;
    }

    private static String errorCode(int status) {
        return switch (status) {
            case 400 -> "BadRequest";
            case 404 -> "NotFound";
            case 405 -> "MethodNotAllowed";
            case 413 -> "BodyTooLarge";
            case 414 -> "UriTooLong";
            case 431 -> "HeadersTooLarge";
            case 505 -> "HttpVersionNotSupported";
            default -> status >= 500 ? "InternalError" : "BadRequest";
        };
    }

    private void serve(Request request, Response response, Callback callback) {
        String rawPath = request.getHttpURI().getPath();
        try {
            if (!hosts.allows(request.getHeaders().get(HttpHeader.HOST))) {
                send(request, response, callback, 421, jsonHeaders(), error("HostNotAllowed",
                        "this development host answers only requests for " + String.join(", ", hosts.allowed())
                                + "; start it with --allow-host NAME to answer another name"));
                return;
            }
            String method = request.getMethod();
            Map<String, String> headers = headers(request);
            Map<String, String> query = query(request.getHttpURI().getQuery());
            String body = readBody(request);
            if (body == null) {
                Map<String, String> h = jsonHeaders();
                // The rest of the body is not read: the connection cannot carry another request.
                h.put(HttpHeader.CONNECTION.asString(), HttpHeaderValue.CLOSE.asString());
                send(request, response, callback, 413, h, Json.write(ErrorBody.of("BodyTooLarge",
                        "request body exceeds " + maxBodyBytes + " bytes", "body")));
                return;
            }
            if (rawPath.equalsIgnoreCase(EventGridWebhook.PATH) || rawPath.equalsIgnoreCase(EventGridWebhook.PATH + "/")) {
                if (!keys.allows(AuthorizationLevel.ADMIN, presentedKey(headers, query))) {
                    unauthorized(request, response, callback);
                    return;
                }
                EventGridWebhook.Reply r = webhook.handle(method.toUpperCase(Locale.ROOT), headers, query, body);
                send(request, response, callback, r.status(), new LinkedHashMap<>(r.headers()), r.body());
                return;
            }
            if (!rawPath.equals(ROUTE_PREFIX) && !rawPath.startsWith(ROUTE_PREFIX + "/")) {
                notFound(request, response, callback, rawPath);
                return;
            }
            HttpMethod httpMethod;
            try {
                httpMethod = HttpMethod.value(method);
            } catch (IllegalArgumentException | NullPointerException e) {
                send(request, response, callback, 405, jsonHeaders(), error("MethodNotAllowed",
                        "method " + method + " is not supported"));
                return;
            }
            List<String> segments = RouteTemplate.pathSegments(rawPath.substring(ROUTE_PREFIX.length()));
            FunctionHost.Resolution resolution = functions.resolve(httpMethod, segments);
            if (resolution instanceof FunctionHost.NotFound) {
                notFound(request, response, callback, rawPath);
            } else if (resolution instanceof FunctionHost.MethodNotAllowed na) {
                Map<String, String> h = jsonHeaders();
                h.put("Allow", na.allowed().stream().map(Enum::name).collect(Collectors.joining(", ")));
                send(request, response, callback, 405, h, error("MethodNotAllowed",
                        httpMethod + " is not allowed on " + rawPath));
            } else if (resolution instanceof FunctionHost.Found found) {
                if (!keys.allows(found.function().authLevel(), presentedKey(headers, query))) {
                    unauthorized(request, response, callback);
                    return;
                }
                invoke(request, response, callback, found, httpMethod, headers, query, body);
            }
        } catch (IllegalArgumentException e) {
            // RouteTemplate and the query decoder refuse malformed escapes the parser let through.
            send(request, response, callback, 400, jsonHeaders(), error("BadRequest", "malformed request: "
                    + e.getMessage()));
        } catch (RuntimeException e) {
            String incident = UUID.randomUUID().toString();
            LOG.log(Level.SEVERE, "local host failed on " + rawPath + "; incident " + incident, e);
            send(request, response, callback, 500, jsonHeaders(), error("InternalError", "internal error; incident "
                    + incident + " is in the host's log"));
        }
    }

    private void invoke(Request request, Response response, Callback callback, FunctionHost.Found found,
                        HttpMethod method, Map<String, String> headers, Map<String, String> query, String body) {
        String rawQuery = request.getHttpURI().getQuery();
        URI full = URI.create(scheme + "://127.0.0.1:" + port() + request.getHttpURI().getPath()
                + (rawQuery == null ? "" : "?" + rawQuery));
        LocalHttpRequest call = new LocalHttpRequest(method, full, headers, query, body.isEmpty() ? null : body);
        Object result;
        try {
            result = functions.invokeHttp(found.function(), call, found.routeValues());
        } catch (Exception e) {
            String incident = UUID.randomUUID().toString();
            LOG.log(Level.SEVERE, "function " + found.function().name() + " threw; incident " + incident, e);
            send(request, response, callback, 500, jsonHeaders(), error("InternalError", "internal error; incident "
                    + incident + " is in the host's log"));
            return;
        }
        if (result instanceof HttpResponseMessage answer) {
            Map<String, String> h = new LinkedHashMap<>();
            if (answer instanceof LocalHttpResponse local) {
                h.putAll(local.headers());
            }
            Object b = answer.getBody();
            String text = b == null ? "" : b instanceof byte[] bytes ? new String(bytes, StandardCharsets.UTF_8)
                    : b instanceof String s ? s : Json.write(b);
            send(request, response, callback, answer.getStatusCode(), h, text);
        } else {
            send(request, response, callback, result == null ? 204 : 200, jsonHeaders(),
                    result == null ? "" : Json.write(result));
        }
    }

    private static String presentedKey(Map<String, String> headers, Map<String, String> query) {
        String h = headers.get("x-functions-key");
        return h != null ? h : query.get("code");
    }

    private static Map<String, String> headers(Request request) {
        Map<String, String> h = new LinkedHashMap<>();
        for (HttpField f : request.getHeaders()) {
            h.merge(f.getLowerCaseName(), f.getValue(), (a, b) -> a + "," + b);
        }
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

    /** The body as text, or null as soon as it exceeds the cap (by its Content-Length, else while streaming). */
    private String readBody(Request request) {
        long declared = request.getLength();
        if (declared > maxBodyBytes) {
            return null;
        }
        byte[] buf = new byte[(int) Math.min(64 * 1024, maxBodyBytes + 1)];
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        try (InputStream in = Content.Source.asInputStream(request)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                if (out.size() + (long) n > maxBodyBytes) {
                    return null;
                }
                out.write(buf, 0, n);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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

    private static void notFound(Request request, Response response, Callback callback, String path) {
        send(request, response, callback, 404, jsonHeaders(), error("NotFound", "no function serves " + path));
    }

    private static void unauthorized(Request request, Response response, Callback callback) {
        send(request, response, callback, 401, jsonHeaders(), error("Unauthorized",
                "a valid key is required (x-functions-key header or code query parameter)"));
    }

    private static void send(Request request, Response response, Callback callback, int status,
                             Map<String, String> headers, String body) {
        response.setStatus(status);
        headers.forEach((k, v) -> response.getHeaders().put(k, v));
        byte[] bytes = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        boolean noBody = bytes.length == 0 || status == 204 || request.getMethod().equalsIgnoreCase("HEAD");
        if (noBody) {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0L);
            response.write(true, null, callback);
        } else {
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
            response.write(true, ByteBuffer.wrap(bytes), callback);
        }
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "local HTTP server did not stop cleanly", e);
        }
    }
}
