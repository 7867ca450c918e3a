package dev.ckptvault.bench;

import com.azure.core.http.HttpHeaderName;
import com.azure.core.http.HttpPipelineCallContext;
import com.azure.core.http.HttpPipelineNextPolicy;
import com.azure.core.http.HttpPipelineNextSyncPolicy;
import com.azure.core.http.HttpPipelinePosition;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.policy.AfterRetryPolicyProvider;
import com.azure.core.http.policy.HttpPipelinePolicy;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import reactor.core.publisher.Mono;

/**
 * Counts every request the Azure SDK clients of this process send, after retries (each attempt
 * is a request storage bills), by who built the client and by storage operation: {@code app}
 * for clients an app instance built (the composition root, or a test app), {@code host} for the
 * local host's own (its event watcher, which stands in for Event Grid, and bootstrap),
 * {@code client} for everything else (trainers' SDK baselines). A Blob Batch counts each
 * sub-request too, read from its answer.
 *
 * <p>Installed through azure-core's {@link AfterRetryPolicyProvider} service, which the bench
 * profile alone puts on the class path ({@code src/bench/resources}): no app code knows of it.
 */
public final class RequestCounter {
    private static final Map<String, LongAdder> COUNTS = new ConcurrentHashMap<>();

    private RequestCounter() {
    }

    /** Counts so far, "owner service operation" to count, sorted. */
    public static Map<String, Long> snapshot() {
        Map<String, Long> out = new TreeMap<>();
        COUNTS.forEach((k, v) -> out.put(k, v.sum()));
        return out;
    }

    /** The counts added since {@code before}. */
    public static Map<String, Long> since(Map<String, Long> before) {
        Map<String, Long> out = new TreeMap<>();
        snapshot().forEach((k, v) -> {
            long d = v - before.getOrDefault(k, 0L);
            if (d != 0) {
                out.put(k, d);
            }
        });
        return out;
    }

    /** Whether the provider is installed (the bench profile's class path). */
    public static boolean installed() {
        return Provider.created.sum() > 0;
    }

    static void add(String key, long n) {
        COUNTS.computeIfAbsent(key, k -> new LongAdder()).add(n);
    }

    /** Called by azure-core for every client pipeline it builds, on the building thread. */
    public static final class Provider implements AfterRetryPolicyProvider {
        static final LongAdder created = new LongAdder();

        @Override
        public HttpPipelinePolicy create() {
            created.increment();
            return new Counting(owner());
        }

        /** Who is building the client, from the building thread's stack. */
        private static String owner() {
            return StackWalker.getInstance().walk(frames -> {
                boolean host = false;
                for (var it = frames.iterator(); it.hasNext(); ) {
                    String c = it.next().getClassName();
                    if (c.equals("dev.ckptvault.wiring.AppContext") || c.equals("dev.ckptvault.testing.TestApp")) {
                        return "app";
                    }
                    host |= c.equals("dev.ckptvault.local.LocalStack");
                }
                return host ? "host" : "client";
            });
        }
    }

    private static final class Counting implements HttpPipelinePolicy {
        private final String owner;

        Counting(String owner) {
            this.owner = owner;
        }

        @Override
        public Mono<HttpResponse> process(HttpPipelineCallContext context, HttpPipelineNextPolicy next) {
            String op = operation(context.getHttpRequest());
            if (op.endsWith("BlobBatch")) {
                // Read the buffered answer without blocking the I/O thread; the SDK reads it again.
                return next.process().flatMap(r -> {
                    HttpResponse buffered = r.buffer();
                    return buffered.getBodyAsByteArray().defaultIfEmpty(new byte[0])
                            .map(bytes -> counted(op, buffered, bytes));
                });
            }
            return next.process().doOnNext(r -> add(owner + " " + op, 1));
        }

        @Override
        public HttpResponse processSync(HttpPipelineCallContext context, HttpPipelineNextSyncPolicy next) {
            String op = operation(context.getHttpRequest());
            HttpResponse r = next.processSync();
            if (op.endsWith("BlobBatch")) {
                HttpResponse buffered = r.buffer();
                return counted(op, buffered, buffered.getBodyAsBinaryData().toBytes());
            }
            add(owner + " " + op, 1);
            return r;
        }

        /** A batch: one request, and one billed operation per sub-request its answer carries. */
        private HttpResponse counted(String op, HttpResponse buffered, byte[] bytes) {
            add(owner + " " + op, 1);
            String body = new String(bytes, StandardCharsets.ISO_8859_1);
            int subs = 0;
            for (int i = body.indexOf("HTTP/1.1 "); i >= 0; i = body.indexOf("HTTP/1.1 ", i + 1)) {
                subs++;
            }
            add(owner + " blob batch-sub", subs);
            return buffered;
        }

        @Override
        public HttpPipelinePosition getPipelinePosition() {
            return HttpPipelinePosition.PER_RETRY;
        }
    }

    /** "blob Write PutBlob", "table Query", ...: the service, the billing class and the operation. */
    static String operation(HttpRequest request) {
        URL url = request.getUrl();
        String query = url.getQuery() == null ? "" : url.getQuery();
        String method = request.getHttpMethod().name();
        boolean table = request.getHeaders().getValue(HttpHeaderName.fromString("DataServiceVersion")) != null
                || url.getPath().endsWith("$batch") || url.getPath().endsWith("/Tables")
                || url.getPath().endsWith(")");
        if (table) {
            if (url.getPath().endsWith("$batch")) {
                return "table Transaction";
            }
            if (method.equals("GET")) {
                return url.getPath().endsWith("()") ? "table Query" : "table PointRead";
            }
            return "table " + switch (method) {
                case "POST" -> "Insert";
                case "DELETE" -> "Delete";
                default -> "Update";
            };
        }
        String comp = param(query, "comp");
        String restype = param(query, "restype");
        String op = switch (method) {
            case "PUT" -> comp == null ? (restype != null ? "ListCreate CreateContainer" : "Write PutBlob")
                    : switch (comp) {
                        case "block" -> "Write PutBlock";
                        case "blocklist" -> "Write PutBlockList";
                        case "lease" -> "Other Lease";
                        case "metadata" -> "Other SetBlobMetadata";
                        case "properties" -> "Other SetBlobProperties";
                        case "tier" -> "Write SetBlobTier";
                        default -> "Other Put-" + comp;
                    };
            case "GET" -> "list".equals(comp) ? "ListCreate ListBlobs"
                    : comp == null && restype == null ? "Read GetBlob" : "Other Get-" + comp;
            case "HEAD" -> restype != null ? "Other GetContainerProperties" : "Other GetBlobProperties";
            case "DELETE" -> "Free DeleteBlob";
            case "POST" -> "batch".equals(comp) ? "Other BlobBatch" : "Other Post-" + comp;
            default -> "Other " + method;
        };
        return "blob " + op;
    }

    private static String param(String query, String name) {
        for (String p : query.split("&")) {
            int eq = p.indexOf('=');
            if (eq > 0 && p.substring(0, eq).equalsIgnoreCase(name)) {
                return p.substring(eq + 1);
            }
        }
        return null;
    }
}
