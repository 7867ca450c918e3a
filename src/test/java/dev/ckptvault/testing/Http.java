package dev.ckptvault.testing;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import dev.ckptvault.local.SasUrls;
import java.time.Duration;

/** A plain JDK HTTP client, as a trainer without the Azure SDK would use the issued URLs. */
public final class Http {
    public static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();

    private Http() {
    }

    /**
     * Put Blob on a connection of its own. Azurite answers a refused write (403, 409, 412) without
     * reading its body, and then reads nothing more from that connection: a pooled client's next
     * request on it would wait for Azurite's two-minute socket timeout.
     */
    public static HttpResponse<String> putBlob(String url, byte[] data) throws IOException, InterruptedException {
        return putBlob(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build(), url, data);
    }

    /** Put Blob through the given client (e.g. one that trusts a test certificate). */
    public static HttpResponse<String> putBlob(HttpClient client, String url, byte[] data)
            throws IOException, InterruptedException {
        return SasUrls.putBlob(client, url, data);
    }

    /** @param blockId base64 block id, not URL-encoded */
    public static HttpResponse<String> putBlock(String url, String blockId, byte[] data)
            throws IOException, InterruptedException {
        return SasUrls.putBlock(CLIENT, url, blockId, data, 0, data.length);
    }

    public static HttpResponse<String> putBlockList(String url, java.util.List<String> blockIds)
            throws IOException, InterruptedException {
        return SasUrls.putBlockList(CLIENT, url, blockIds);
    }

    /**
     * Lease Blob through a SAS URL, as a write-URL holder can: {@code action} acquire (with
     * {@code leaseId} as the proposed id, infinite), break (at once) or release. On a connection of
     * its own, like {@link #putBlob}: a refused lease call may leave Azurite's end unread.
     */
    public static HttpResponse<String> lease(String url, String action, String leaseId)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url + "&comp=lease"))
                .header("x-ms-lease-action", action).PUT(HttpRequest.BodyPublishers.noBody());
        switch (action) {
            case "acquire" -> b.header("x-ms-lease-duration", "-1").header("x-ms-proposed-lease-id", leaseId);
            case "break" -> b.header("x-ms-lease-break-period", "0");
            default -> b.header("x-ms-lease-id", leaseId);
        }
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()
                .send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Put Blob through a SAS URL under a lease the caller holds. */
    public static HttpResponse<String> putBlobLeased(String url, byte[] data, String leaseId)
            throws IOException, InterruptedException {
        return HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build().send(
                HttpRequest.newBuilder(URI.create(url)).header("x-ms-blob-type", "BlockBlob")
                        .header("x-ms-lease-id", leaseId).PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public static HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return get(CLIENT, url);
    }

    public static HttpResponse<String> get(HttpClient client, String url) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    public static HttpResponse<byte[]> getBytes(String url) throws IOException, InterruptedException {
        return CLIENT.send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    public static HttpResponse<String> delete(String url) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(url)).DELETE().build());
    }

    /** A run token from the admin route, as a job launcher gets one for its ranks. */
    public static String issueToken(String baseUrl, String adminKey, String run, String scope)
            throws IOException, InterruptedException {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(baseUrl + "/api/manage/runs/" + run + "/tokens"))
                .header("x-functions-key", adminKey).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"scope\":\"" + scope + "\"}")).build());
        if (r.statusCode() != 200) {
            throw new AssertionError("issuing a " + scope + " token answered " + r.statusCode() + ": " + r.body());
        }
        return dev.ckptvault.json.Json.parse(r.body(), "token answer").get("token").asText();
    }

    /** GET with a run token. */
    public static HttpResponse<String> get(String url, String token) throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + token).GET().build());
    }

    public static HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
