package dev.ckptvault.upload;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import dev.ckptvault.storage.SasSigner;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.local.SasUrls;

/** What a trainer does with an issued URL, through a plain HTTP client, against Azurite. */
class WriteUrlTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;
    static UploadService uploads;
    static ExecutorService pool;

    @BeforeAll
    static void setUp() {
        ctx = AZURITE.app();
        uploads = ctx.uploads;
        pool = Executors.newFixedThreadPool(4);
    }

    @AfterAll
    static void tearDown() {
        pool.shutdownNow();
    }

    private static UploadAnswer.Upload urlFor(String run, long step, String path) {
        UploadRequest req = new UploadRequest(
                List.of(new UploadRequest.FileRequest(new RelativePath(path), Optional.empty())), Optional.empty());
        return uploads.issue(CheckpointId.of(run, step), req).uploads().get(0);
    }

    private static byte[] random(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] readBack(String blobName) {
        return ctx.storage.container().getBlobClient(blobName).downloadContent().toBytes();
    }

    @Test
    void putBlobThroughTheUrlStoresTheExactBytes() throws Exception {
        UploadAnswer.Upload u = urlFor("put-blob", 10, "rank-00000/model.safetensors");
        byte[] data = random(300_000, 1);
        HttpResponse<String> r = Http.putBlob(u.url(), data);
        assertEquals(201, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("ETag").isPresent());
        assertArrayEquals(data, readBack(u.blobName()));
    }

    @Test
    void parallelPutBlockAndPutBlockListStoreTheExactBytes() throws Exception {
        UploadAnswer.Upload u = urlFor("blocks", 20, "rank-00001/optim.pt");
        int blockSize = 256 * 1024;
        byte[] data = random(blockSize * 6 + 1234, 2);
        List<String> ids = new ArrayList<>();
        List<CompletableFuture<HttpResponse<String>>> puts = new ArrayList<>();
        for (int off = 0, n = 0; off < data.length; off += blockSize, n++) {
            String id = SasUrls.blockId(n);
            ids.add(id);
            byte[] part = java.util.Arrays.copyOfRange(data, off, Math.min(data.length, off + blockSize));
            puts.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return Http.putBlock(u.url(), id, part);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }, pool));
        }
        for (CompletableFuture<HttpResponse<String>> p : puts) {
            assertEquals(201, p.get().statusCode(), p.get().body());
        }
        assertEquals(201, Http.putBlockList(u.url(), ids).statusCode());
        assertArrayEquals(data, readBack(u.blobName()));
    }

    @Test
    void theWriteUrlCannotReadDeleteOrList() throws Exception {
        UploadAnswer.Upload u = urlFor("least-privilege", 30, "rank-0/a.bin");
        assertEquals(201, Http.putBlob(u.url(), random(100, 3)).statusCode());
        assertEquals(403, Http.get(u.url()).statusCode(), "read");
        assertEquals(403, Http.delete(u.url()).statusCode(), "delete");
        String query = u.url().substring(u.url().indexOf('?'));
        String containerUrl = ctx.storage.container().getBlobContainerUrl();
        assertEquals(403, Http.get(containerUrl + query + "&restype=container&comp=list").statusCode(), "list");
        assertArrayEquals(random(100, 3), readBack(u.blobName()), "the blob is still there");
    }

    @Test
    void theWriteUrlCannotWriteAnotherBlobName() throws Exception {
        UploadAnswer.Upload u = urlFor("scoped", 40, "rank-0/a.bin");
        String other = u.url().replace("rank-0/a.bin", "rank-0/b.bin");
        assertTrue(!other.equals(u.url()), u.url());
        assertEquals(403, Http.putBlob(other, random(10, 4)).statusCode());
        String manifest = u.url().replace("rank-0/a.bin", "_manifest.json");
        assertEquals(403, Http.putBlob(manifest, random(10, 4)).statusCode());
        assertTrue(!ctx.storage.container().getBlobClient("scoped/step-000000000040/rank-0/b.bin").exists());
    }

    @Test
    void anExpiredUrlIsRefused() throws Exception {
        String blob = CheckpointId.of("expired", 50).prefix() + "a.bin";
        OffsetDateTime now = OffsetDateTime.now();
        String url = ctx.signer.sign(List.of(blob), SasSigner.Access.WRITE, now.minusMinutes(10),
                now.minusMinutes(1)).get(0);
        assertEquals(403, Http.putBlob(url, random(10, 5)).statusCode());
    }

    @Test
    void aTamperedSignatureIsRefused() throws Exception {
        UploadAnswer.Upload u = urlFor("tampered", 60, "a.bin");
        int sig = u.url().indexOf("sig=") + 4;
        char c = u.url().charAt(sig);
        String tampered = u.url().substring(0, sig) + (c == 'A' ? 'B' : 'A') + u.url().substring(sig + 1);
        assertEquals(403, Http.putBlob(tampered, random(10, 6)).statusCode());
        // Widening the permissions in the URL breaks the signature too.
        String widened = u.url().replace("sp=cw", "sp=rcwd");
        assertEquals(403, Http.get(widened).statusCode());
    }

    @Test
    void askingAgainGivesAFreshUrlThatStillWorks() throws Exception {
        UploadAnswer.Upload first = urlFor("refresh", 70, "a.bin");
        UploadAnswer.Upload second = urlFor("refresh", 70, "a.bin");
        assertEquals(first.blobName(), second.blobName());
        assertEquals(201, Http.putBlob(second.url(), random(10, 7)).statusCode());
    }

    @Test
    void urlsCarryTheWindowAskedForClampedToTheMaximum() {
        UploadRequest req = new UploadRequest(
                List.of(new UploadRequest.FileRequest(new RelativePath("a.bin"), Optional.of(1L))),
                Optional.of(Duration.ofDays(3)));
        OffsetDateTime before = OffsetDateTime.now();
        UploadAnswer a = uploads.issue(CheckpointId.of("clamp", 1), req);
        Duration lifetime = Duration.between(before, a.expiresOn());
        assertTrue(lifetime.compareTo(ctx.config.maxUrlLifetime().plusSeconds(5)) <= 0, lifetime.toString());
        assertTrue(lifetime.compareTo(ctx.config.maxUrlLifetime().minusSeconds(5)) >= 0, lifetime.toString());
        String url = a.uploads().get(0).url();
        assertTrue(url.contains("sp=cw"), url);
        assertTrue(url.contains("st="), "start time is set (backdated for clock skew)");
    }
}
