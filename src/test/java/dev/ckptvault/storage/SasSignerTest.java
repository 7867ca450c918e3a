package dev.ckptvault.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.models.UserDelegationKey;
import com.azure.storage.blob.sas.BlobSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.sas.SasProtocol;
import dev.ckptvault.config.StorageSettings;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The signers call the SDK's SAS code without building a {@code BlobClient} per name; whatever
 * they sign must be exactly what {@code BlobClient.generateSas} / {@code generateUserDelegationSas}
 * signs for the same blob, version, permissions and window, or an SDK upgrade changed the code
 * the signers rely on. No network: signing is local.
 */
class SasSignerTest {
    private static final String CONNECTION = "DefaultEndpointsProtocol=https;AccountName=" + StorageSettings.EMULATOR_ACCOUNT
            + ";AccountKey=" + StorageSettings.EMULATOR_KEY + ";BlobEndpoint=https://127.0.0.1:10000/"
            + StorageSettings.EMULATOR_ACCOUNT + ";";
    private static final BlobContainerClient CONTAINER = new BlobServiceClientBuilder().connectionString(CONNECTION)
            .buildClient().getBlobContainerClient("checkpoints");
    private static final OffsetDateTime NOW = OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS);
    private static final List<String> NAMES = List.of("run-a/step-000000000100/rank-00000/model.safetensors",
            "run-a/step-000000000100/rank-00001/optim/state-00.bin", "run.b_1/step-000000000000/x");

    @Test
    void accountKeyWriteAndReadUrlsAreTheSdksOwn() {
        AccountKeySasSigner signer = new AccountKeySasSigner(CONTAINER, true);
        for (SasSigner.Access access : SasSigner.Access.values()) {
            List<String> urls = signer.sign(NAMES, access, NOW.minusMinutes(5), NOW.plusMinutes(30));
            for (int i = 0; i < NAMES.size(); i++) {
                BlobClient blob = CONTAINER.getBlobClient(NAMES.get(i));
                assertEquals(CONTAINER.getBlobContainerUrl() + "/" + NAMES.get(i) + "?" + blob.generateSas(values(access)),
                        urls.get(i), access + " URL " + i);
            }
        }
    }

    @Test
    void versionReadUrlsAreTheSdksVersionSas() {
        AccountKeySasSigner signer = new AccountKeySasSigner(CONTAINER, true);
        List<String> versions = Arrays.asList("2026-01-02T03:04:05.6789012Z", null, "2026-01-02T03:04:05.0000001Z");
        List<String> urls = signer.signReads(NAMES, versions, NOW.minusMinutes(5), NOW.plusMinutes(30));
        for (int i = 0; i < NAMES.size(); i++) {
            BlobClient blob = CONTAINER.getBlobClient(NAMES.get(i));
            String expected = versions.get(i) == null
                    ? blob.generateSas(values(SasSigner.Access.READ))
                    : "versionid=" + URLEncoder.encode(versions.get(i), StandardCharsets.UTF_8) + "&"
                            + blob.getVersionClient(versions.get(i)).generateSas(values(SasSigner.Access.READ));
            assertEquals(CONTAINER.getBlobContainerUrl() + "/" + NAMES.get(i) + "?" + expected, urls.get(i));
        }
        assertTrue(urls.get(0).contains("sr=bv"), urls.get(0));
    }

    @Test
    void userDelegationUrlsAreTheSdksOwn() {
        UserDelegationKey key = new UserDelegationKey().setSignedObjectId("00000000-0000-0000-0000-000000000001")
                .setSignedTenantId("00000000-0000-0000-0000-000000000002").setSignedStart(NOW.minusHours(1))
                .setSignedExpiry(NOW.plusHours(6)).setSignedService("b").setSignedVersion("2025-11-05")
                .setValue(Base64.getEncoder().encodeToString(new byte[32]));
        UserDelegationSasSigner signer = new UserDelegationSasSigner(CONTAINER, true, Duration.ofHours(4),
                Clock.systemUTC(), (start, expiry) -> key);
        List<String> versions = Arrays.asList(null, "2026-01-02T03:04:05.6789012Z", null);
        List<String> writes = signer.sign(NAMES, SasSigner.Access.WRITE, NOW.minusMinutes(5), NOW.plusMinutes(30));
        List<String> reads = signer.signReads(NAMES, versions, NOW.minusMinutes(5), NOW.plusMinutes(30));
        for (int i = 0; i < NAMES.size(); i++) {
            BlobClient blob = CONTAINER.getBlobClient(NAMES.get(i));
            assertEquals(CONTAINER.getBlobContainerUrl() + "/" + NAMES.get(i) + "?"
                    + blob.generateUserDelegationSas(values(SasSigner.Access.WRITE), key), writes.get(i));
            String read = versions.get(i) == null
                    ? blob.generateUserDelegationSas(values(SasSigner.Access.READ), key)
                    : "versionid=" + URLEncoder.encode(versions.get(i), StandardCharsets.UTF_8) + "&"
                            + blob.getVersionClient(versions.get(i)).generateUserDelegationSas(values(SasSigner.Access.READ), key);
            assertEquals(CONTAINER.getBlobContainerUrl() + "/" + NAMES.get(i) + "?" + read, reads.get(i));
        }
    }

    @Test
    void aContainerClientWithoutAnAccountKeyCannotBeAnAccountKeySigner() {
        BlobContainerClient anonymous = new BlobServiceClientBuilder().endpoint("https://127.0.0.1:10000/devstoreaccount1")
                .buildClient().getBlobContainerClient("checkpoints");
        assertThrows(IllegalArgumentException.class, () -> new AccountKeySasSigner(anonymous, true));
    }

    private static BlobServiceSasSignatureValues values(SasSigner.Access access) {
        BlobSasPermission p = access == SasSigner.Access.WRITE
                ? new BlobSasPermission().setCreatePermission(true).setWritePermission(true)
                : new BlobSasPermission().setReadPermission(true);
        return new BlobServiceSasSignatureValues(NOW.plusMinutes(30), p).setStartTime(NOW.minusMinutes(5))
                .setProtocol(SasProtocol.HTTPS_ONLY);
    }

}
