package dev.ckptvault.checkpoint;

/**
 * Storage writes eTags with quotes in headers and events but without them in listings; the app
 * keeps and compares them in the quoted header form.
 */
public final class ETags {
    private ETags() {
    }

    public static String normalize(String etag) {
        if (etag == null || etag.isEmpty()) {
            return etag;
        }
        return etag.startsWith("\"") ? etag : "\"" + etag + "\"";
    }
}
