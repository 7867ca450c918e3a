package dev.ckptvault.local;

import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.HttpStatus;
import com.microsoft.azure.functions.HttpStatusType;
import java.net.URI;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The request object the local host hands to function classes, as the Java worker would: headers
 * with lower-case names, decoded query parameters, the body as an optional string.
 */
public final class LocalHttpRequest implements HttpRequestMessage<Optional<String>> {
    private final URI uri;
    private final HttpMethod method;
    private final Map<String, String> headers;
    private final Map<String, String> query;
    private final String body;

    public LocalHttpRequest(HttpMethod method, URI uri, Map<String, String> headers, Map<String, String> query,
                            String body) {
        this.method = method;
        this.uri = uri;
        Map<String, String> h = new LinkedHashMap<>();
        headers.forEach((k, v) -> h.put(k.toLowerCase(Locale.ROOT), v));
        this.headers = Collections.unmodifiableMap(h);
        this.query = Collections.unmodifiableMap(new LinkedHashMap<>(query));
        this.body = body;
    }

    /** A request as a test or tool would build it. */
    public static LocalHttpRequest of(HttpMethod method, String path, Map<String, String> query, String body) {
        return of(method, path, query, body, Map.of());
    }

    /** A request as a test or tool would build it, with these headers (e.g. Authorization). */
    public static LocalHttpRequest of(HttpMethod method, String path, Map<String, String> query, String body,
                                      Map<String, String> headers) {
        Map<String, String> h = new LinkedHashMap<>(headers);
        if (body != null) {
            h.putIfAbsent("content-type", "application/json");
        }
        return new LocalHttpRequest(method, URI.create("http://127.0.0.1:7071" + path), h, query, body);
    }

    @Override
    public URI getUri() {
        return uri;
    }

    @Override
    public HttpMethod getHttpMethod() {
        return method;
    }

    @Override
    public Map<String, String> getHeaders() {
        return headers;
    }

    @Override
    public Map<String, String> getQueryParameters() {
        return query;
    }

    @Override
    public Optional<String> getBody() {
        return Optional.ofNullable(body);
    }

    @Override
    public HttpResponseMessage.Builder createResponseBuilder(HttpStatus status) {
        return new LocalHttpResponse.Builder().status(status);
    }

    @Override
    public HttpResponseMessage.Builder createResponseBuilder(HttpStatusType status) {
        return new LocalHttpResponse.Builder().status(status);
    }
}
