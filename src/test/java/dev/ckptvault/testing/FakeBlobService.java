package dev.ckptvault.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A small Blob service over plain HTTP for what no emulator serves: an account with blob
 * versioning on. Speaks the REST reference's wire format for exactly the calls the app's commit
 * and read paths make (Create Container, List Blobs with {@code include=versions,metadata}, Put
 * Blob with its conditions, Get Blob and Get Blob Properties of a version, Lease Blob, Set Blob
 * Metadata), keeps every version a write makes, and checks the signature of SAS reads as storage
 * does: the service SAS string-to-sign of versions 2020-12-06 and later, where a version SAS
 * ({@code sr=bv}) signs the version id in the snapshot-time field and the request must name that
 * version ({@code versionid=}). Shared Key requests of the app's own client are not verified.
 */
public final class FakeBlobService implements AutoCloseable {
    private static final DateTimeFormatter RFC1123 = DateTimeFormatter.RFC_1123_DATE_TIME;
    private static final DateTimeFormatter VERSION_ID =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSS'Z'").withZone(ZoneOffset.UTC);

    /** One request as received: method, blob or container path, query parameters and the headers tests look at. */
    public record Request(String method, String path, Map<String, String> query, Map<String, String> headers) {
    }

    /** One version of a blob. */
    public record Version(String versionId, byte[] data, String etag, Instant lastModified, Instant created,
                          Map<String, String> metadata) {
    }

    private static final class Blob {
        final List<Version> versions = new ArrayList<>();
        Version current;
        String leaseId;
        String leaseState = "available";
    }

    private final HttpServer server;
    private final String account;
    private final byte[] key;
    private final Map<String, Map<String, Blob>> containers = new TreeMap<>();
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final AtomicLong ticks = new AtomicLong();

    public FakeBlobService(String account, String base64Key) throws IOException {
        this.account = account;
        this.key = Base64.getDecoder().decode(base64Key);
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    /** The blob endpoint as a connection string names it, e.g. http://127.0.0.1:PORT/account. */
    public String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/" + account;
    }

    public List<Request> requests() {
        return List.copyOf(requests);
    }

    /** Every version of a blob, oldest first. */
    public synchronized List<Version> versions(String container, String blob) {
        Blob b = containers.getOrDefault(container, Map.of()).get(blob);
        return b == null ? List.of() : List.copyOf(b.versions);
    }

    /** The current version of a blob, or null when it has none (never written, or deleted). */
    public synchronized Version current(String container, String blob) {
        Blob b = containers.getOrDefault(container, Map.of()).get(blob);
        return b == null ? null : b.current;
    }

    @Override
    public void close() {
        server.stop(0);
    }

    // ---- dispatch -----------------------------------------------------------------------------

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String rawPath = ex.getRequestURI().getRawPath();
            String prefix = "/" + account + "/";
            if (!rawPath.startsWith(prefix)) {
                error(ex, 400, "InvalidUri", "not this account");
                return;
            }
            String rest = URLDecoder.decode(rawPath.substring(prefix.length()), StandardCharsets.UTF_8);
            int slash = rest.indexOf('/');
            String container = slash < 0 ? rest : rest.substring(0, slash);
            String blob = slash < 0 ? null : rest.substring(slash + 1);
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            Map<String, String> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
            ex.getRequestHeaders().forEach((k, v) -> headers.put(k, v.get(0)));
            byte[] body = ex.getRequestBody().readAllBytes();
            requests.add(new Request(ex.getRequestMethod(), rest, query, headers));
            synchronized (this) {
                route(ex, container, blob, query, headers, body);
            }
        } catch (RuntimeException e) {
            error(ex, 500, "InternalError", String.valueOf(e));
        }
    }

    private void route(HttpExchange ex, String container, String blob, Map<String, String> q, Map<String, String> h,
                       byte[] body) throws IOException {
        String method = ex.getRequestMethod();
        if (blob == null || blob.isEmpty()) {
            if ("container".equals(q.get("restype")) && "list".equals(q.get("comp")) && method.equals("GET")) {
                list(ex, container, q);
            } else if ("container".equals(q.get("restype")) && method.equals("PUT")) {
                if (containers.putIfAbsent(container, new TreeMap<>()) != null) {
                    error(ex, 409, "ContainerAlreadyExists", "The specified container already exists.");
                } else {
                    send(ex, 201, Map.of("ETag", "\"0x1\"", "Last-Modified", rfc1123(Instant.now())), null);
                }
            } else if ("container".equals(q.get("restype"))) {
                if (containers.containsKey(container)) {
                    send(ex, 200, Map.of("ETag", "\"0x1\"", "Last-Modified", rfc1123(Instant.now())), null);
                } else {
                    error(ex, 404, "ContainerNotFound", "The specified container does not exist.");
                }
            } else {
                error(ex, 400, "UnsupportedQueryParameter", "not served by this fake: " + q);
            }
            return;
        }
        Map<String, Blob> blobs = containers.get(container);
        if (blobs == null) {
            error(ex, 404, "ContainerNotFound", "The specified container does not exist.");
            return;
        }
        if (q.containsKey("sig") && !sasAllows(ex, container, blob, q)) {
            return;
        }
        String comp = q.get("comp");
        switch (method) {
            case "PUT" -> {
                if (comp == null) {
                    putBlob(ex, blobs, blob, h, body);
                } else if (comp.equals("lease")) {
                    lease(ex, blobs.get(blob), h);
                } else if (comp.equals("metadata")) {
                    setMetadata(ex, blobs.get(blob), h);
                } else {
                    error(ex, 400, "UnsupportedQueryParameter", "comp=" + comp + " is not served by this fake");
                }
            }
            case "GET", "HEAD" -> read(ex, blobs.get(blob), q, method.equals("HEAD"));
            case "DELETE" -> {
                Blob b = blobs.get(blob);
                if (b == null || b.current == null) {
                    error(ex, 404, "BlobNotFound", "The specified blob does not exist.");
                } else if ("leased".equals(b.leaseState) && !b.leaseId.equals(h.get("x-ms-lease-id"))) {
                    error(ex, 412, "LeaseIdMissing", "There is currently a lease on the blob and no lease ID was specified in the request.");
                } else {
                    b.current = null;
                    b.leaseState = "available";
                    b.leaseId = null;
                    send(ex, 202, Map.of(), null);
                }
            }
            default -> error(ex, 405, "UnsupportedHttpVerb", method);
        }
    }

    // ---- operations ---------------------------------------------------------------------------

    private void putBlob(HttpExchange ex, Map<String, Blob> blobs, String name, Map<String, String> h, byte[] body)
            throws IOException {
        Blob b = blobs.get(name);
        boolean exists = b != null && b.current != null;
        if ("*".equals(h.get("If-None-Match")) && exists) {
            error(ex, 409, "BlobAlreadyExists", "The specified blob already exists.");
            return;
        }
        if (h.containsKey("If-Match") && (!exists || !h.get("If-Match").equals(b.current.etag()))) {
            error(ex, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
            return;
        }
        if (exists && "leased".equals(b.leaseState) && !b.leaseId.equals(h.get("x-ms-lease-id"))) {
            error(ex, 412, h.containsKey("x-ms-lease-id") ? "LeaseIdMismatchWithBlobOperation" : "LeaseIdMissing",
                    "There is currently a lease on the blob and no matching lease ID was specified in the request.");
            return;
        }
        if (b == null) {
            b = new Blob();
            blobs.put(name, b);
        }
        Instant now = tick();
        Map<String, String> metadata = new TreeMap<>();
        h.forEach((k, v) -> {
            if (k.toLowerCase(Locale.ROOT).startsWith("x-ms-meta-")) {
                metadata.put(k.substring("x-ms-meta-".length()).toLowerCase(Locale.ROOT), v);
            }
        });
        Version v = new Version(VERSION_ID.format(now), body, etag(now), now, b.current == null ? now : b.current.created(),
                metadata);
        b.versions.add(v);
        b.current = v;
        Map<String, String> out = new LinkedHashMap<>();
        out.put("ETag", v.etag());
        out.put("Last-Modified", rfc1123(now));
        out.put("x-ms-version-id", v.versionId());
        out.put("x-ms-request-server-encrypted", "true");
        out.put("Content-MD5", Base64.getEncoder().encodeToString(md5(body)));
        send(ex, 201, out, null);
    }

    private void lease(HttpExchange ex, Blob b, Map<String, String> h) throws IOException {
        if (b == null || b.current == null) {
            error(ex, 404, "BlobNotFound", "The specified blob does not exist.");
            return;
        }
        String action = String.valueOf(h.get("x-ms-lease-action"));
        Map<String, String> out = new LinkedHashMap<>();
        out.put("ETag", b.current.etag());
        out.put("Last-Modified", rfc1123(b.current.lastModified()));
        switch (action) {
            case "acquire" -> {
                String proposed = h.getOrDefault("x-ms-proposed-lease-id", UUID.randomUUID().toString());
                if ("leased".equals(b.leaseState) && !b.leaseId.equals(proposed)) {
                    error(ex, 409, "LeaseAlreadyPresent", "There is already a lease present.");
                    return;
                }
                int status = "leased".equals(b.leaseState) ? 200 : 201;
                b.leaseId = proposed;
                b.leaseState = "leased";
                out.put("x-ms-lease-id", proposed);
                send(ex, status, out, null);
            }
            case "break" -> {
                if (!"leased".equals(b.leaseState)) {
                    error(ex, 409, "LeaseNotPresentWithLeaseOperation", "There is currently no lease on the blob.");
                    return;
                }
                b.leaseState = "broken";
                out.put("x-ms-lease-time", "0");
                send(ex, 202, out, null);
            }
            case "release" -> {
                if (!"leased".equals(b.leaseState) || !b.leaseId.equals(h.get("x-ms-lease-id"))) {
                    error(ex, 409, "LeaseIdMismatchWithLeaseOperation", "The lease ID specified did not match.");
                    return;
                }
                b.leaseState = "available";
                b.leaseId = null;
                send(ex, 200, out, null);
            }
            default -> error(ex, 400, "InvalidHeaderValue", "x-ms-lease-action " + action);
        }
    }

    private void setMetadata(HttpExchange ex, Blob b, Map<String, String> h) throws IOException {
        if (b == null || b.current == null) {
            error(ex, 404, "BlobNotFound", "The specified blob does not exist.");
            return;
        }
        if (h.containsKey("If-Match") && !h.get("If-Match").equals(b.current.etag())) {
            error(ex, 412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.");
            return;
        }
        Map<String, String> metadata = new TreeMap<>();
        h.forEach((k, v) -> {
            if (k.toLowerCase(Locale.ROOT).startsWith("x-ms-meta-")) {
                metadata.put(k.substring("x-ms-meta-".length()).toLowerCase(Locale.ROOT), v);
            }
        });
        // With versioning on, a metadata change makes a new version too.
        Instant now = tick();
        Version v = new Version(VERSION_ID.format(now), b.current.data(), etag(now), now, b.current.created(), metadata);
        b.versions.add(v);
        b.current = v;
        send(ex, 200, Map.of("ETag", v.etag(), "Last-Modified", rfc1123(now), "x-ms-version-id", v.versionId()), null);
    }

    private void read(HttpExchange ex, Blob b, Map<String, String> q, boolean head) throws IOException {
        Version v = null;
        if (b != null) {
            String wanted = q.get("versionid");
            if (wanted == null) {
                v = b.current;
            } else {
                v = b.versions.stream().filter(x -> x.versionId().equals(wanted)).findFirst().orElse(null);
            }
        }
        if (v == null) {
            error(ex, 404, "BlobNotFound", "The specified blob does not exist.");
            return;
        }
        Map<String, String> out = new LinkedHashMap<>();
        out.put("Content-Type", "application/octet-stream");
        out.put("ETag", v.etag());
        out.put("Last-Modified", rfc1123(v.lastModified()));
        out.put("x-ms-creation-time", rfc1123(v.created()));
        out.put("x-ms-blob-type", "BlockBlob");
        out.put("x-ms-version-id", v.versionId());
        out.put("x-ms-is-current-version", Boolean.toString(v == b.current));
        out.put("x-ms-lease-state", v == b.current ? b.leaseState : "available");
        out.put("x-ms-lease-status", v == b.current && "leased".equals(b.leaseState) ? "locked" : "unlocked");
        out.put("x-ms-server-encrypted", "true");
        out.put("Accept-Ranges", "bytes");
        v.metadata().forEach((k, val) -> out.put("x-ms-meta-" + k, val));
        if (head) {
            out.put("Content-Length", Integer.toString(v.data().length));
            send(ex, 200, out, null);
        } else {
            send(ex, 200, out, v.data());
        }
    }

    private void list(HttpExchange ex, String container, Map<String, String> q) throws IOException {
        Map<String, Blob> blobs = containers.get(container);
        if (blobs == null) {
            error(ex, 404, "ContainerNotFound", "The specified container does not exist.");
            return;
        }
        String prefix = q.getOrDefault("prefix", "");
        List<String> include = List.of(q.getOrDefault("include", "").split(","));
        boolean versions = include.contains("versions");
        boolean metadata = include.contains("metadata");
        StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?>")
                .append("<EnumerationResults ServiceEndpoint=\"").append(endpoint().replace("/" + account, "/"))
                .append("\" ContainerName=\"").append(esc(container)).append("\">")
                .append("<Prefix>").append(esc(prefix)).append("</Prefix><Blobs>");
        for (Map.Entry<String, Blob> e : blobs.entrySet()) {
            if (!e.getKey().startsWith(prefix)) {
                continue;
            }
            Blob b = e.getValue();
            List<Version> shown = versions ? b.versions : b.current == null ? List.of() : List.of(b.current);
            for (Version v : shown) {
                boolean current = v == b.current;
                xml.append("<Blob><Name>").append(esc(e.getKey())).append("</Name>");
                if (versions) {
                    xml.append("<VersionId>").append(v.versionId()).append("</VersionId>");
                    if (current) {
                        xml.append("<IsCurrentVersion>true</IsCurrentVersion>");
                    }
                }
                xml.append("<Properties>")
                        .append("<Creation-Time>").append(rfc1123(v.created())).append("</Creation-Time>")
                        .append("<Last-Modified>").append(rfc1123(v.lastModified())).append("</Last-Modified>")
                        .append("<Etag>").append(v.etag().replace("\"", "")).append("</Etag>")
                        .append("<Content-Length>").append(v.data().length).append("</Content-Length>")
                        .append("<Content-Type>application/octet-stream</Content-Type>")
                        .append("<BlobType>BlockBlob</BlobType>")
                        .append("<AccessTier>Hot</AccessTier><AccessTierInferred>true</AccessTierInferred>");
                if (current) {
                    boolean leased = "leased".equals(b.leaseState);
                    xml.append("<LeaseStatus>").append(leased ? "locked" : "unlocked").append("</LeaseStatus>")
                            .append("<LeaseState>").append(b.leaseState).append("</LeaseState>");
                    if (leased) {
                        xml.append("<LeaseDuration>infinite</LeaseDuration>");
                    }
                }
                xml.append("<ServerEncrypted>true</ServerEncrypted></Properties>");
                if (metadata) {
                    xml.append("<Metadata>");
                    v.metadata().forEach((k, val) -> xml.append('<').append(k).append('>').append(esc(val))
                            .append("</").append(k).append('>'));
                    xml.append("</Metadata>");
                }
                xml.append("</Blob>");
            }
        }
        xml.append("</Blobs><NextMarker /></EnumerationResults>");
        send(ex, 200, Map.of("Content-Type", "application/xml"), xml.toString().getBytes(StandardCharsets.UTF_8));
    }

    // ---- SAS ----------------------------------------------------------------------------------

    /**
     * Checks a SAS read as storage does; answers 403 itself when it does not allow the request.
     * Service SAS string-to-sign, versions 2020-12-06 and later (REST reference, "Create a service
     * SAS"): sp, st, se, canonicalized resource, si, sip, spr, sv, sr, snapshot time (the version
     * id for sr=bv), ses, rscc, rscd, rsce, rscl, rsct, one per line.
     */
    private boolean sasAllows(HttpExchange ex, String container, String blob, Map<String, String> q)
            throws IOException {
        String sr = q.getOrDefault("sr", "");
        String snapshotTime = switch (sr) {
            case "bv" -> q.getOrDefault("versionid", "");
            case "bs" -> q.getOrDefault("snapshot", "");
            default -> "";
        };
        String stringToSign = String.join("\n", q.getOrDefault("sp", ""), q.getOrDefault("st", ""),
                q.getOrDefault("se", ""), "/blob/" + account + "/" + container + "/" + blob, q.getOrDefault("si", ""),
                q.getOrDefault("sip", ""), q.getOrDefault("spr", ""), q.getOrDefault("sv", ""), sr, snapshotTime,
                q.getOrDefault("ses", ""), q.getOrDefault("rscc", ""), q.getOrDefault("rscd", ""),
                q.getOrDefault("rsce", ""), q.getOrDefault("rscl", ""), q.getOrDefault("rsct", ""));
        String expected = Base64.getEncoder().encodeToString(hmac(stringToSign));
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.UTF_8),
                q.get("sig").getBytes(StandardCharsets.UTF_8))) {
            error(ex, 403, "AuthenticationFailed", "Signature did not match. String to sign used was " + stringToSign);
            return false;
        }
        Instant now = Instant.now();
        if ((q.containsKey("st") && Instant.parse(q.get("st")).isAfter(now)) || Instant.parse(q.get("se")).isBefore(now)) {
            error(ex, 403, "AuthenticationFailed", "Signed expiry time or start time is out of range.");
            return false;
        }
        String sp = q.getOrDefault("sp", "");
        boolean reads = ex.getRequestMethod().equals("GET") || ex.getRequestMethod().equals("HEAD");
        boolean writes = ex.getRequestMethod().equals("PUT");
        if (!(reads && sp.contains("r")) && !(writes && (sp.contains("w") || sp.contains("c")))) {
            error(ex, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
            return false;
        }
        if (sr.equals("bv") && !q.containsKey("versionid")) {
            error(ex, 403, "AuthorizationResourceTypeMismatch", "A version SAS needs the versionid parameter.");
            return false;
        }
        return true;
    }

    private byte[] hmac(String s) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(s.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- plumbing -----------------------------------------------------------------------------

    /** Strictly increasing times, one per write, so every version id and eTag is unique. */
    private Instant tick() {
        Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
        long micros = now.getEpochSecond() * 1_000_000 + now.getNano() / 1_000;
        long t = ticks.updateAndGet(prev -> Math.max(prev + 1, micros));
        return Instant.ofEpochSecond(t / 1_000_000, (t % 1_000_000) * 1_000);
    }

    private static String etag(Instant t) {
        return "\"0x8DE" + Long.toHexString(t.getEpochSecond() * 1_000_000 + t.getNano() / 1_000).toUpperCase(Locale.ROOT)
                + "\"";
    }

    private static String rfc1123(Instant t) {
        return RFC1123.format(OffsetDateTime.ofInstant(t, ZoneOffset.UTC));
    }

    private static byte[] md5(byte[] data) {
        try {
            return MessageDigest.getInstance("MD5").digest(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String part : raw.split("&")) {
            int eq = part.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? part : part.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8);
            out.put(k, v);
        }
        return out;
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        byte[] body = ("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + code + "</Code><Message>"
                + esc(message) + "</Message></Error>").getBytes(StandardCharsets.UTF_8);
        send(ex, status, Map.of("Content-Type", "application/xml", "x-ms-error-code", code), body);
    }

    private static void send(HttpExchange ex, int status, Map<String, String> headers, byte[] body) throws IOException {
        headers.forEach((k, v) -> ex.getResponseHeaders().set(k, v));
        ex.getResponseHeaders().set("x-ms-request-id", UUID.randomUUID().toString());
        ex.getResponseHeaders().set("x-ms-version", "2025-11-05");
        ex.getResponseHeaders().set("Date", rfc1123(Instant.now()));
        if (ex.getRequestMethod().equals("HEAD")) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        if (body == null || body.length == 0) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }
}
