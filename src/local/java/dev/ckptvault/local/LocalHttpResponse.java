package dev.ckptvault.local;

import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.HttpStatusType;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** A function's answer as the local host receives it. */
public final class LocalHttpResponse implements HttpResponseMessage {
    private final HttpStatusType status;
    private final Map<String, String> headers;
    private final Object body;

    private LocalHttpResponse(HttpStatusType status, Map<String, String> headers, Object body) {
        this.status = status;
        this.headers = Collections.unmodifiableMap(headers);
        this.body = body;
    }

    @Override
    public HttpStatusType getStatus() {
        return status;
    }

    @Override
    public String getHeader(String key) {
        return headers.get(key.toLowerCase(Locale.ROOT));
    }

    public Map<String, String> headers() {
        return headers;
    }

    @Override
    public Object getBody() {
        return body;
    }

    /** The body as text, however the function set it. */
    public String bodyText() {
        if (body == null) {
            return "";
        }
        if (body instanceof byte[] b) {
            return new String(b, java.nio.charset.StandardCharsets.UTF_8);
        }
        return body.toString();
    }

    static final class Builder implements HttpResponseMessage.Builder {
        private HttpStatusType status;
        private final Map<String, String> headers = new LinkedHashMap<>();
        private Object body;

        @Override
        public Builder status(HttpStatusType status) {
            this.status = status;
            return this;
        }

        @Override
        public Builder header(String key, String value) {
            headers.put(key.toLowerCase(Locale.ROOT), value);
            return this;
        }

        @Override
        public Builder body(Object body) {
            this.body = body;
            return this;
        }

        @Override
        public LocalHttpResponse build() {
            return new LocalHttpResponse(status, headers, body);
        }
    }
}
