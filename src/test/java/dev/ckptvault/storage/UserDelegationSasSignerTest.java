package dev.ckptvault.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.UserDelegationKey;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.EmulatorTokenCredential;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.SelfSignedTls;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.ckptvault.upload.UploadService;

/**
 * User delegation SAS against Azurite in its bearer-token mode (HTTPS with a throw-away
 * certificate, {@code --oauth basic}): the app's identity gets a delegation key from storage and
 * signs with it, as with a managed identity in Azure.
 */
class UserDelegationSasSignerTest {
    private static final Duration MAX_URL_LIFETIME = Duration.ofHours(4);

    @TempDir
    static Path tls_dir;

    static SelfSignedTls tls;
    static AzuriteProcess azurite;
    static BlobServiceClient service;
    static BlobContainerClient container;
    static HttpClient trainer;

    @BeforeAll
    static void startAzuriteWithOAuth() throws Exception {
        tls = SelfSignedTls.create(tls_dir);
        azurite = AzuriteProcess.startHttpsOAuth(AzuriteExtension.projectDir(), tls.certPem(), tls.keyPem());
        service = new BlobServiceClientBuilder()
                .endpoint(azurite.blobEndpoint())
                .credential(new EmulatorTokenCredential())
                .httpClient(tls.sdkHttpClient())
                .serviceVersion(StorageClients.EMULATOR_BLOB_VERSION)
                .buildClient();
        container = service.getBlobContainerClient("checkpoints");
        container.create();
        trainer = tls.jdkClient();
    }

    @AfterAll
    static void stop() {
        if (azurite != null) {
            azurite.close();
        }
    }

    private static String writeUrl(SasSigner signer, String blobName) {
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS);
        return signer.sign(List.of(blobName), SasSigner.Access.WRITE, now.minusMinutes(5), now.plusMinutes(30)).get(0);
    }

    /** As the app builds it in identity mode (CKPT_STORAGE__blobServiceUri etc.) against this Azurite. */
    private static UserDelegationSasSigner realSigner() {
        StorageSettings identity = new StorageSettings(null, URI.create(azurite.blobEndpoint()),
                URI.create(azurite.tableEndpoint()), "managedidentity", null);
        return new UserDelegationSasSigner(service, container, identity, MAX_URL_LIFETIME, Clock.systemUTC());
    }

    private static Map<String, String> query(String url) {
        Map<String, String> q = new HashMap<>();
        for (String part : URI.create(url).getRawQuery().split("&")) {
            int eq = part.indexOf('=');
            q.put(part.substring(0, eq), URLDecoder.decode(part.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return q;
    }

    @Test
    void plainHttpClientPutsTheExactBytesThroughAUserDelegationUrl() throws Exception {
        String name = "udk-run/step-000000000001/rank-00000/model.safetensors";
        String url = writeUrl(realSigner(), name);
        Map<String, String> q = query(url);
        assertEquals(EmulatorTokenCredential.OBJECT_ID, q.get("skoid"), "signed by the identity's delegation key");
        assertEquals("cw", q.get("sp"));
        assertFalse(url.contains("AccountKey"), url);

        byte[] data = new byte[200_000];
        new Random(7).nextBytes(data);
        HttpResponse<String> put = Http.putBlob(trainer, url, data);
        assertEquals(201, put.statusCode(), put.body());
        assertArrayEquals(data, container.getBlobClient(name).downloadContent().toBytes());
    }

    @Test
    void userDelegationWriteUrlIsRefusedForReadAndForAnotherBlobName() throws Exception {
        String name = "udk-run/step-000000000002/rank-00000/model.safetensors";
        String url = writeUrl(realSigner(), name);
        assertEquals(201, Http.putBlob(trainer, url, new byte[] {1, 2, 3}).statusCode());

        assertEquals(403, Http.get(trainer, url).statusCode(), "write URL must not read");
        String other = url.replace("rank-00000/model.safetensors", "rank-00000/other.safetensors");
        HttpResponse<String> put = Http.putBlob(trainer, other, new byte[] {4});
        assertEquals(403, put.statusCode(), put.body());
        assertFalse(container.getBlobClient("udk-run/step-000000000002/rank-00000/other.safetensors").exists());
    }

    /** Counts the real round trips to Azurite for delegation keys. */
    private static final class CountingKeySource implements BiFunction<OffsetDateTime, OffsetDateTime, UserDelegationKey> {
        final AtomicInteger fetches = new AtomicInteger();

        @Override
        public UserDelegationKey apply(OffsetDateTime start, OffsetDateTime expiry) {
            fetches.incrementAndGet();
            return service.getUserDelegationKey(start, expiry);
        }
    }

    @Test
    void delegationKeyIsFetchedOnceForManySignCallsWithinAnHourAndNeverUsedLonger() {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
        CountingKeySource keys = new CountingKeySource();
        UserDelegationSasSigner signer = new UserDelegationSasSigner(container, true, MAX_URL_LIFETIME, clock, keys);
        Instant fetched = clock.instant();

        OffsetDateTime firstKeyExpiry = null;
        for (int i = 0; i < 50; i++) {
            String url = signMax(signer, clock, "run/step-000000000003/rank-" + i + "/f.bin");
            OffsetDateTime keyExpiry = OffsetDateTime.parse(query(url).get("ske"));
            firstKeyExpiry = firstKeyExpiry == null ? keyExpiry : firstKeyExpiry;
            assertEquals(firstKeyExpiry, keyExpiry, "the same key signs every URL while it is fresh");
            clock.advance(Duration.ofMinutes(1));
        }
        assertEquals(1, keys.fetches.get(), "one key for 50 sign calls");

        clock.advance(Duration.between(clock.instant(), fetched.plus(Duration.ofHours(1)).minusSeconds(1)));
        signMax(signer, clock, "run/step-000000000003/last-second.bin");
        assertEquals(1, keys.fetches.get(), "still the first key one second before it is an hour old");

        clock.advance(Duration.ofSeconds(1));
        String renewed = signMax(signer, clock, "run/step-000000000003/after-an-hour.bin");
        assertEquals(2, keys.fetches.get(), "a key an hour old is not used again");
        assertTrue(OffsetDateTime.parse(query(renewed).get("ske")).isAfter(firstKeyExpiry));

        signMax(signer, clock, "run/step-000000000003/after-renewal.bin");
        assertEquals(2, keys.fetches.get(), "the renewed key is cached in turn");
    }

    /**
     * An operator revokes the account's user delegation keys (Azure: Revoke User Delegation Keys):
     * every URL signed with an older key stops working. The signer is never told; what bounds the
     * damage is that it fetches a new key at least hourly, so URLs it issues an hour after the
     * revocation are all signed with a key fetched after it.
     */
    @Test
    void urlsIssuedAnHourAfterARevocationAreSignedWithAKeyFetchedAfterIt() {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
        List<Instant> fetchTimes = new java.util.concurrent.CopyOnWriteArrayList<>();
        UserDelegationSasSigner signer = new UserDelegationSasSigner(container, true, MAX_URL_LIFETIME, clock,
                (start, expiry) -> {
                    fetchTimes.add(clock.instant());
                    return service.getUserDelegationKey(start, expiry);
                });
        signMax(signer, clock, "run/step-000000000005/before.bin");
        clock.advance(Duration.ofMinutes(17));
        Instant revokedAt = clock.instant();
        for (int minute = 0; minute <= 90; minute++) {
            Map<String, String> q = query(signMax(signer, clock, "run/step-000000000005/m" + minute + ".bin"));
            Instant keyStart = OffsetDateTime.parse(q.get("skt")).toInstant();
            boolean fetchedAfterRevocation = fetchTimes.stream().anyMatch(t -> !t.isBefore(revokedAt)
                    && keyStart.equals(t.minus(Duration.ofMinutes(5))));
            if (!clock.instant().isBefore(revokedAt.plus(UserDelegationSasSigner.MAX_KEY_AGE))) {
                assertTrue(fetchedAfterRevocation, "minute " + minute + " after the revocation: signed with key from "
                        + keyStart + ", fetched before the revocation at " + revokedAt);
            }
            clock.advance(Duration.ofMinutes(1));
        }
    }

    @Test
    void delegationKeyAlwaysCoversTheUrlExpiryAndIsAtMostAnHourOld() {
        MutableClock clock = new MutableClock(Instant.now().truncatedTo(ChronoUnit.SECONDS));
        CountingKeySource keys = new CountingKeySource();
        UserDelegationSasSigner signer = new UserDelegationSasSigner(container, true, MAX_URL_LIFETIME, clock, keys);
        // Two days in 7-minute steps, every URL at the maximum lifetime: none may outlive its key.
        for (int i = 0; i < 2 * 24 * 60 / 7; i++) {
            Map<String, String> q = query(signMax(signer, clock, "run/step-000000000004/f.bin"));
            OffsetDateTime se = OffsetDateTime.parse(q.get("se"));
            OffsetDateTime ske = OffsetDateTime.parse(q.get("ske"));
            OffsetDateTime skt = OffsetDateTime.parse(q.get("skt"));
            assertFalse(ske.isBefore(se), "key expiry " + ske + " before URL expiry " + se);
            assertFalse(skt.isAfter(OffsetDateTime.parse(q.get("st"))), "key starts after the URL");
            // The key's start is its fetch time minus 5 minutes, the URL's start now minus 5 minutes.
            assertTrue(Duration.between(skt, OffsetDateTime.parse(q.get("st"))).compareTo(Duration.ofHours(1)) < 0,
                    "a key fetched more than an hour ago signed at " + clock.instant());
            clock.advance(Duration.ofMinutes(7));
        }
        // One fetch per 63 minutes (nine 7-minute steps), not one per call.
        assertTrue(keys.fetches.get() >= 2 * 24 * 60 / 63 && keys.fetches.get() <= 2 * 24 * 60 / 63 + 1,
                "about one key an hour over two days: " + keys.fetches.get());
    }

    private static String signMax(SasSigner signer, Clock clock, String name) {
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
        return signer.sign(List.of(name), SasSigner.Access.WRITE, now.minus(UploadService.CLOCK_SKEW),
                now.plus(MAX_URL_LIFETIME)).get(0);
    }
}
