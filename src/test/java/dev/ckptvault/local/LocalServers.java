package dev.ckptvault.local;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import dev.ckptvault.testing.Http;

/** A local HTTP host over test function instances, on a free port. */
final class LocalServers implements AutoCloseable {
    static final String FUNCTION_KEY = "fkey";
    static final String ADMIN_KEY = "akey";
    static final KeyPolicy KEYS = new KeyPolicy(java.util.Optional.of(FUNCTION_KEY), ADMIN_KEY);

    final FunctionHost host;
    final EventGridDispatcher dispatcher;
    final LocalHttpServer server;

    LocalServers(KeyPolicy keys, Object... functions) throws IOException {
        this(keys, HostPolicy.LOOPBACK_ONLY, LocalHttpServer.MAX_REQUEST_BYTES, functions);
    }

    /** A host answering {@code hosts} and reading bodies up to {@code maxBodyBytes}. */
    static LocalServers with(KeyPolicy keys, HostPolicy hosts, long maxBodyBytes, Object... functions)
            throws IOException {
        return new LocalServers(keys, hosts, maxBodyBytes, functions);
    }

    private LocalServers(KeyPolicy keys, HostPolicy hosts, long maxBodyBytes, Object[] functions) throws IOException {
        host = TestFunctions.load(functions);
        dispatcher = new EventGridDispatcher(host, 4);
        server = new LocalHttpServer(host, new EventGridWebhook(dispatcher), keys, hosts, 0, 8, maxBodyBytes);
        server.start();
    }

    String url(String pathAndQuery) {
        return "http://127.0.0.1:" + server.port() + pathAndQuery;
    }

    HttpResponse<String> send(String method, String pathAndQuery, String body, String... headers)
            throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url(pathAndQuery)))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        for (int i = 0; i < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return Http.send(b.build());
    }

    @Override
    public void close() {
        server.close();
        dispatcher.close();
    }
}
