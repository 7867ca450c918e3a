package dev.ckptvault.storage;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.models.UserDelegationKey;
import com.azure.storage.blob.sas.BlobSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import dev.ckptvault.config.StorageSettings;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.function.BiFunction;

/**
 * User delegation SAS signed with a key obtained by the app's managed identity, so no account key
 * exists in the app at all. The key is cached and renewed well before it expires: every URL's
 * expiry must fall inside the key's validity, and fetching a key is a round trip to storage.
 */
public final class UserDelegationSasSigner extends SdkSasSigner {
    /** Azure allows delegation keys of at most seven days. */
    static final Duration MAX_KEY_VALIDITY = Duration.ofDays(7);
    /** Newest user delegation string-to-sign layout Azurite 3.35 verifies. */
    static final String EMULATOR_MAX_UDK_SAS_VERSION = "2026-02-06";

    private final BiFunction<OffsetDateTime, OffsetDateTime, UserDelegationKey> keySource;
    private final Clock clock;
    private final Duration keyValidity;
    private final Duration renewMargin;
    private volatile UserDelegationKey cached;

    public UserDelegationSasSigner(BlobServiceClient service, BlobContainerClient container, boolean httpsOnly,
                                   Duration maxUrlLifetime, Clock clock) {
        this(container, httpsOnly, maxUrlLifetime, clock,
                (start, expiry) -> StorageCalls.call("get a user delegation key",
                        () -> service.getUserDelegationKey(start, expiry)));
    }

    /**
     * HTTPS-only URLs in Azure. On the emulator (Azurite with {@code --oauth basic}) plain HTTP is
     * allowed too and URLs are signed in a service version Azurite can check.
     */
    public UserDelegationSasSigner(BlobServiceClient service, BlobContainerClient container, StorageSettings storage,
                                   Duration maxUrlLifetime, Clock clock) {
        this(service, container, !storage.isEmulator(), maxUrlLifetime, clock);
        if (storage.isEmulator()) {
            pinEmulatorSasVersion();
            requireEmulatorReadableVersion(container);
        }
    }

    UserDelegationSasSigner(BlobContainerClient container, boolean httpsOnly, Duration maxUrlLifetime, Clock clock,
                            BiFunction<OffsetDateTime, OffsetDateTime, UserDelegationKey> keySource) {
        super(container, httpsOnly);
        this.keySource = keySource;
        this.clock = clock;
        // Renew while the remaining validity still covers the longest URL plus an hour of slack.
        this.renewMargin = maxUrlLifetime.plusHours(1);
        Duration wanted = maxUrlLifetime.multipliedBy(2).plusHours(6);
        this.keyValidity = wanted.compareTo(MAX_KEY_VALIDITY) > 0 ? MAX_KEY_VALIDITY : wanted;
    }

    @Override
    Signer prepare(BlobServiceSasSignatureValues values, OffsetDateTime expiry) {
        UserDelegationKey key = keyCovering(expiry);
        return (blob, v) -> blob.generateUserDelegationSas(v, key);
    }

    /**
     * Fails at start, not with a 403 per upload, when this process already signs in a newer
     * version than Azurite checks (something signed a SAS before the pin). Signs a throw-away
     * key locally; nothing leaves the process.
     */
    private static void requireEmulatorReadableVersion(BlobContainerClient container) {
        OffsetDateTime now = OffsetDateTime.now(ZoneOffset.UTC);
        UserDelegationKey probe = new UserDelegationKey().setSignedObjectId("probe").setSignedTenantId("probe")
                .setSignedStart(now).setSignedExpiry(now.plusHours(1)).setSignedService("b")
                .setSignedVersion(StorageClients.EMULATOR_BLOB_VERSION.getVersion())
                .setValue(Base64.getEncoder().encodeToString(new byte[32]));
        String sas = container.getBlobClient("probe").generateUserDelegationSas(
                new BlobServiceSasSignatureValues(now.plusHours(1), new BlobSasPermission().setReadPermission(true)),
                probe);
        String version = sas.replaceFirst("^(?:.*&)?sv=([^&]*).*$", "$1");
        if (version.compareTo(EMULATOR_MAX_UDK_SAS_VERSION) > 0) {
            throw new IllegalStateException("this process signs SAS in service version " + version
                    + ", newer than the " + EMULATOR_MAX_UDK_SAS_VERSION + " Azurite checks user delegation SAS in; set "
                    + SAS_VERSION_SETTING + "=" + StorageClients.EMULATOR_BLOB_VERSION.getVersion()
                    + " before the first SAS is signed");
        }
    }

    UserDelegationKey keyCovering(OffsetDateTime urlExpiry) {
        UserDelegationKey key = cached;
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
        if (key == null || key.getSignedExpiry().isBefore(now.plus(renewMargin))
                || key.getSignedExpiry().isBefore(urlExpiry)) {
            synchronized (this) {
                key = cached;
                if (key == null || key.getSignedExpiry().isBefore(now.plus(renewMargin))
                        || key.getSignedExpiry().isBefore(urlExpiry)) {
                    key = keySource.apply(now.minusMinutes(5), now.plus(keyValidity));
                    cached = key;
                }
            }
        }
        return key;
    }
}
