package dev.ckptvault.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.azure.core.credential.AccessToken;
import com.azure.core.credential.TokenCredential;
import com.azure.core.http.HttpClient;
import com.azure.data.tables.TableServiceClientBuilder;
import com.azure.storage.blob.BlobServiceClientBuilder;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;

/**
 * infra/ hands the app {@code primaryEndpoints.blob} and {@code .table} as Azure reports them, with
 * a trailing "/" (https://ACCOUNT.blob.core.windows.net/). The local Azure mode cannot give that
 * form (Azurite's account is a path segment, after which the Tables SDK would double the "/"), so
 * this checks the Azure form here: the SDKs, built as StorageClients builds them from the setting,
 * address the same URLs with and without the trailing "/". Nothing leaves the process.
 */
class AzureEndpointFormTest {
    static final TokenCredential TOKEN = r -> Mono.just(new AccessToken("t", OffsetDateTime.now().plusHours(1)));

    static List<String> urls(java.util.function.Consumer<HttpClient> calls) {
        List<String> seen = new CopyOnWriteArrayList<>();
        HttpClient recorder = request -> {
            seen.add(request.getHttpMethod() + " " + request.getUrl());
            return Mono.error(new IllegalStateException("recorded only"));
        };
        calls.accept(recorder);
        return seen;
    }

    static List<String> tableUrls(String endpoint) {
        return urls(http -> {
            var tables = new TableServiceClientBuilder().endpoint(endpoint).credential(TOKEN).httpClient(http)
                    .retryOptions(new com.azure.core.http.policy.RetryOptions(
                            new com.azure.core.http.policy.FixedDelayOptions(0, java.time.Duration.ofMillis(1))))
                    .buildClient();
            try {
                tables.createTable("ckptindex");
            } catch (RuntimeException expected) {
                // The recorder answers nothing.
            }
            try {
                tables.getTableClient("ckptindex").getEntity("run", "row");
            } catch (RuntimeException expected) {
                // As above.
            }
        });
    }

    static List<String> blobUrls(String endpoint) {
        return urls(http -> {
            var blobs = new BlobServiceClientBuilder().endpoint(endpoint).credential(TOKEN).httpClient(http)
                    .retryOptions(new com.azure.storage.common.policy.RequestRetryOptions(
                            com.azure.storage.common.policy.RetryPolicyType.FIXED, 1, 5, 1L, 1L, null))
                    .buildClient();
            try {
                blobs.getBlobContainerClient("checkpoints").getBlobClient("run/step-000000000001/a.bin").getProperties();
            } catch (RuntimeException expected) {
                // The recorder answers nothing.
            }
        });
    }

    @Test
    void azuresEndpointsWithTheirTrailingSlashAddressTheSameUrls() {
        List<String> tables = tableUrls("https://stckpt.table.core.windows.net/");
        assertEquals(List.of("POST https://stckpt.table.core.windows.net/Tables",
                "GET https://stckpt.table.core.windows.net/ckptindex(PartitionKey='run',RowKey='row')"),
                tables.stream().distinct().map(u -> u.replaceAll("\\?.*$", "")).toList());
        assertEquals(tables, tableUrls("https://stckpt.table.core.windows.net"));

        List<String> blobs = blobUrls("https://stckpt.blob.core.windows.net/");
        assertEquals("HEAD https://stckpt.blob.core.windows.net/checkpoints/run%2Fstep-000000000001%2Fa.bin",
                blobs.get(0).replaceAll("\\?.*$", ""));
        assertEquals(blobs, blobUrls("https://stckpt.blob.core.windows.net"));
    }
}
