package dev.ckptvault.local;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.logging.Logger;

/**
 * The token service the Functions platform gives an app with a managed identity, as App Service
 * documents it (api-version 2019-08-01): the app finds it in {@code IDENTITY_ENDPOINT} and proves
 * it is the app with the header {@code X-IDENTITY-HEADER: <IDENTITY_HEADER>}; a GET with
 * {@code resource} and one of {@code client_id}, {@code principal_id}/{@code object_id},
 * {@code mi_res_id} answers {@code {access_token, expires_on, resource, token_type, client_id}}.
 *
 * <p>The site has only a user-assigned identity (as in infra/), so a request that names none asks
 * for a system-assigned identity that does not exist and, like a request naming another identity,
 * gets App Service's 400 {@code {"statusCode":400,"message":"Unable to load the proper Managed
 * Identity.","correlationId":...}}. Plain HTTP on loopback, as on App Service. Neither the header
 * value nor a token is ever logged.
 */
public final class ManagedIdentityEndpoint implements AutoCloseable {
    public static final String PATH = "/msi/token";
    public static final String API_VERSION = "2019-08-01";
    public static final String HEADER = "X-IDENTITY-HEADER";
    static final String NO_IDENTITY = "Unable to load the proper Managed Identity.";
    private static final Logger LOG = Logger.getLogger(ManagedIdentityEndpoint.class.getName());
    private static final List<String> ID_PARAMETERS = List.of("client_id", "principal_id", "object_id", "mi_res_id");

    /** What was issued, for tests and the log: never the token. */
    public record Grant(String resource, String clientId) {
    }

    private final LocalIdentity identity;
    private final TokenIssuer issuer;
    private final String secret;
    private final HttpServer server;
    private final ExecutorService threads;
    private final List<Grant> granted = new CopyOnWriteArrayList<>();

    public ManagedIdentityEndpoint(LocalIdentity identity, TokenIssuer issuer) throws IOException {
        this.identity = identity;
        this.issuer = issuer;
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        this.secret = Base64.getUrlEncoder().withoutPadding().encodeToString(b);
        this.server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        this.threads = serve(server, "msi-endpoint", this::handle);
    }

    /**
     * Starts a local stand-in for an Azure endpoint: {@code handler} answers every path on four
     * daemon threads (a test or a local start never waits on them to exit).
     *
     * @return the threads, for the caller's close
     */
    static ExecutorService serve(HttpServer server, String threadName, com.sun.net.httpserver.HttpHandler handler) {
        ExecutorService threads = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
        server.setExecutor(threads);
        server.createContext("/", handler);
        server.start();
        return threads;
    }

    /** The value of IDENTITY_ENDPOINT. */
    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + PATH);
    }

    /** The value of IDENTITY_HEADER: a secret of this start, for the app's environment only. */
    public String identityHeader() {
        return secret;
    }

    /** The environment variables the platform gives the app for its identity. */
    public Map<String, String> environment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("IDENTITY_ENDPOINT", endpoint().toString());
        env.put("IDENTITY_HEADER", secret);
        return env;
    }

    public List<Grant> granted() {
        return List.copyOf(granted);
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            if (!ex.getRequestURI().getPath().equals(PATH)) {
                refuse(ex, 404, "No route matches " + ex.getRequestURI().getPath());
                return;
            }
            if (!ex.getRequestMethod().equals("GET")) {
                refuse(ex, 405, "The token endpoint takes GET only.");
                return;
            }
            String presented = ex.getRequestHeaders().getFirst(HEADER);
            if (presented == null || !MessageDigest.isEqual(presented.getBytes(StandardCharsets.UTF_8),
                    secret.getBytes(StandardCharsets.UTF_8))) {
                // App Service does not document this answer; a 401 in its error shape, never retried by MSAL.
                refuse(ex, 401, "The " + HEADER + " header is missing or does not match IDENTITY_HEADER.");
                return;
            }
            Map<String, String> q;
            try {
                q = LocalHttpServer.query(ex.getRequestURI().getRawQuery());
            } catch (IllegalArgumentException e) {
                refuse(ex, 400, "Malformed query string.");
                return;
            }
            if (!API_VERSION.equals(q.get("api-version"))) {
                refuse(ex, 400, "api-version must be " + API_VERSION + " (IDENTITY_ENDPOINT protocol); got "
                        + q.get("api-version"));
                return;
            }
            String resource = q.get("resource");
            if (resource == null || resource.isBlank()) {
                refuse(ex, 400, "The resource parameter is required.");
                return;
            }
            List<String> named = new ArrayList<>();
            for (String p : ID_PARAMETERS) {
                if (q.containsKey(p)) {
                    named.add(p);
                }
            }
            if (named.size() > 1) {
                refuse(ex, 400, "Only one of client_id, principal_id, object_id and mi_res_id may be given; got " + named);
                return;
            }
            if (named.isEmpty() || !matches(named.get(0), q.get(named.get(0)))) {
                // No id means the system-assigned identity, which this site does not have.
                LOG.warning("managed identity: refused a token for " + resource + " ("
                        + (named.isEmpty() ? "no identity named: the site has no system-assigned identity"
                        : named.get(0) + " names no identity of this site") + ")");
                refuse(ex, 400, NO_IDENTITY);
                return;
            }
            TokenIssuer.Issued token = issuer.issue(identity, resource);
            granted.add(new Grant(resource, identity.clientId()));
            LOG.info("managed identity: issued a token for " + resource + " to client " + identity.clientId());
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("access_token", token.token());
            body.put("expires_on", Long.toString(token.expiresOn().getEpochSecond()));
            body.put("resource", resource);
            body.put("token_type", "Bearer");
            body.put("client_id", identity.clientId());
            send(ex, 200, Json.bytes(body));
        }
    }

    private boolean matches(String parameter, String value) {
        return switch (parameter) {
            case "client_id" -> identity.clientId().equalsIgnoreCase(value);
            case "principal_id", "object_id" -> identity.principalId().equalsIgnoreCase(value);
            case "mi_res_id" -> identity.resourceId().equalsIgnoreCase(value);
            default -> false;
        };
    }

    private static void refuse(HttpExchange ex, int status, String message) throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("statusCode", status);
        body.put("message", message);
        body.put("correlationId", UUID.randomUUID().toString());
        send(ex, status, Json.bytes(body));
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(status, body.length);
        ex.getResponseBody().write(body);
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
