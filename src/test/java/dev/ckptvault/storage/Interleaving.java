package dev.ckptvault.storage;

import com.azure.core.http.HttpPipelineCallContext;
import com.azure.core.http.HttpRequest;
import com.azure.core.http.HttpResponse;
import com.azure.core.http.policy.HttpPipelineSyncPolicy;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/**
 * Forces a race instead of hoping for one: the first request of this client that matches is held
 * until another writer, on another thread, has finished. What this client read before that
 * request is then stale, exactly as when two app instances interleave.
 */
public final class Interleaving extends HttpPipelineSyncPolicy {
    private final Predicate<HttpRequest> matches;
    private final Runnable meanwhile;
    private final AtomicBoolean fired = new AtomicBoolean();
    private final List<Integer> statuses = new CopyOnWriteArrayList<>();

    /** @param meanwhile the other writer's whole operation, run on its own thread before the held request goes */
    public Interleaving(Predicate<HttpRequest> matches, Runnable meanwhile) {
        this.matches = matches;
        this.meanwhile = meanwhile;
    }

    /** Requests with this method whose blob path ends with {@code suffix} and whose query contains {@code query}. */
    public static Predicate<HttpRequest> request(com.azure.core.http.HttpMethod method, String suffix, String query) {
        // The SDK sends a blob name's '/' as %2F.
        return r -> r.getHttpMethod() == method
                && URLDecoder.decode(r.getUrl().getPath(), StandardCharsets.UTF_8).endsWith(suffix)
                && (query == null || (r.getUrl().getQuery() != null && r.getUrl().getQuery().contains(query)));
    }

    @Override
    protected void beforeSendingRequest(HttpPipelineCallContext context) {
        if (matches.test(context.getHttpRequest()) && fired.compareAndSet(false, true)) {
            FutureTask<Void> other = new FutureTask<>(meanwhile, null);
            Thread t = new Thread(other, "interleaved-writer");
            t.start();
            try {
                other.get(30, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                throw new IllegalStateException("the interleaved writer failed", e.getCause());
            } catch (InterruptedException | TimeoutException e) {
                throw new IllegalStateException("the interleaved writer did not finish", e);
            }
        }
    }

    @Override
    protected HttpResponse afterReceivedResponse(HttpPipelineCallContext context, HttpResponse response) {
        if (matches.test(context.getHttpRequest())) {
            statuses.add(response.getStatusCode());
        }
        return response;
    }

    /** Whether the other writer ran. */
    public boolean fired() {
        return fired.get();
    }

    /** The statuses this client's matching requests got, in order. */
    public List<Integer> statuses() {
        return List.copyOf(statuses);
    }

    /** A client of {@code container} on the storage behind {@code connectionString} that interleaves as told. */
    public BlobContainerClient container(String connectionString, String container) {
        return new BlobServiceClientBuilder().connectionString(connectionString)
                .serviceVersion(StorageClients.EMULATOR_BLOB_VERSION).addPolicy(this).buildClient()
                .getBlobContainerClient(container);
    }
}
