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
    final FunctionHost host;
    final EventGridDispatcher dispatcher;
    final LocalHttpServer server;

    LocalServers(KeyPolicy keys, Object... functions) throws IOException {
        host = TestFunctions.load(functions);
        dispatcher = new EventGridDispatcher(host, 4);
        server = new LocalHttpServer(host, new EventGridWebhook(dispatcher), keys, 0, 8);
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
