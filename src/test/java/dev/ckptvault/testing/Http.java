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

    public static HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
        return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
    }
}
