package dev.ckptvault.local;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/**
 * What a trainer without the Azure SDK does with an issued write URL, in the Blob REST API's
 * terms: Put Blob for a small file, Put Block per part and Put Block List for a big one. The
 * trainer simulation and the tests both write through here.
 */
public final class SasUrls {
    private SasUrls() {
    }

    public static HttpResponse<String> putBlob(HttpClient client, String url, byte[] data)
            throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(url)).header("x-ms-blob-type", "BlockBlob")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(data)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The base64 block id of part {@code index}: every id of a blob must have the same length. */
    public static String blockId(int index) {
        return Base64.getEncoder().encodeToString(String.format(Locale.ROOT, "block-%08d", index)
                .getBytes(StandardCharsets.US_ASCII));
    }

    /** Put Block of {@code length} bytes of {@code data} from {@code offset}, as block {@code blockId} (base64, not yet URL-encoded). */
    public static HttpResponse<String> putBlock(HttpClient client, String url, String blockId, byte[] data, int offset,
                                                int length) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(URI.create(url + "&comp=block&blockid="
                        + URLEncoder.encode(blockId, StandardCharsets.UTF_8)))
                .PUT(HttpRequest.BodyPublishers.ofByteArray(data, offset, length)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Put Block List committing the given blocks (base64 ids) in order. */
    public static HttpResponse<String> putBlockList(HttpClient client, String url, List<String> blockIds)
            throws IOException, InterruptedException {
        StringBuilder xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        for (String id : blockIds) {
            xml.append("<Latest>").append(id).append("</Latest>");
        }
        xml.append("</BlockList>");
        return client.send(HttpRequest.newBuilder(URI.create(url + "&comp=blocklist"))
                .PUT(HttpRequest.BodyPublishers.ofString(xml.toString())).build(), HttpResponse.BodyHandlers.ofString());
    }
}
