package dev.ckptvault.storage;

import com.azure.core.util.Context;
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
 * exists in the app at all. The key is cached, but never used for more than {@link #MAX_KEY_AGE}
 * after it was fetched: after an operator revokes the account's user delegation keys (every URL
 * signed with them stops working), the app signs with a fresh key within the hour. Each key is
 * requested valid for that hour plus the longest URL, so every URL's expiry falls inside it.
 */
public final class UserDelegationSasSigner extends SdkSasSigner {
    /** Azure allows delegation keys of at most seven days. */
    static final Duration MAX_KEY_VALIDITY = Duration.ofDays(7);
    /** How long one fetched key signs before the next is fetched. */
    public static final Duration MAX_KEY_AGE = Duration.ofHours(1);
    /** Newest user delegation string-to-sign layout Azurite 3.35 verifies. */
    static final String EMULATOR_MAX_UDK_SAS_VERSION = "2026-02-06";

    private final String accountName;
    private final BiFunction<OffsetDateTime, OffsetDateTime, UserDelegationKey> keySource;
    private final Clock clock;
    private final Duration keyValidity;
    private volatile Cached cached;

    private record Cached(UserDelegationKey key, OffsetDateTime fetchedAt) {
    }

    public UserDelegationSasSigner(BlobServiceClient service, BlobContainerClient container, boolean httpsOnly,
                                   Duration maxUrlLifetime, Clock clock) {
        this(container, httpsOnly, maxUrlLifetime, clock,
                (start, expiry) -> StorageCalls.call("get a user delegation key",
                        () -> service.getUserDelegationKey(start, expiry)));
    }

    /**
     * HTTPS-only URLs in Azure, and wherever the blob endpoint is HTTPS (an HTTP URL to it would not
     * work anyway). On an emulator reached over plain HTTP, HTTP is allowed too. On the emulator
     * URLs are signed in a service version Azurite can check.
     */
    public UserDelegationSasSigner(BlobServiceClient service, BlobContainerClient container, StorageSettings storage,
                                   Duration maxUrlLifetime, Clock clock) {
        this(service, container, !storage.isEmulator() || (storage.blobServiceUri() != null
                && "https".equalsIgnoreCase(storage.blobServiceUri().getScheme())), maxUrlLifetime, clock);
        if (storage.isEmulator()) {
            pinEmulatorSasVersion();
            requireEmulatorReadableVersion(container);
        }
    }

    UserDelegationSasSigner(BlobContainerClient container, boolean httpsOnly, Duration maxUrlLifetime, Clock clock,
                            BiFunction<OffsetDateTime, OffsetDateTime, UserDelegationKey> keySource) {
        super(container, httpsOnly);
        this.accountName = container.getAccountName();
        this.keySource = keySource;
        this.clock = clock;
        // A key signs for at most MAX_KEY_AGE, so it must stay valid that long plus the longest URL.
        Duration wanted = maxUrlLifetime.plus(MAX_KEY_AGE).plusMinutes(10);
        this.keyValidity = wanted.compareTo(MAX_KEY_VALIDITY) > 0 ? MAX_KEY_VALIDITY : wanted;
    }

    @Override
    Signer prepare(BlobServiceSasSignatureValues values, OffsetDateTime expiry) {
        UserDelegationKey key = keyCovering(expiry);
        return util -> util.generateUserDelegationSas(key, accountName, Context.NONE);
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
        OffsetDateTime now = OffsetDateTime.now(clock).withOffsetSameInstant(ZoneOffset.UTC);
        Cached c = cached;
        if (!usable(c, now, urlExpiry)) {
            synchronized (this) {
                c = cached;
                if (!usable(c, now, urlExpiry)) {
                    c = new Cached(keySource.apply(now.minusMinutes(5), now.plus(keyValidity)), now);
                    cached = c;
                }
            }
        }
        return c.key();
    }

    private static boolean usable(Cached c, OffsetDateTime now, OffsetDateTime urlExpiry) {
        return c != null && now.isBefore(c.fetchedAt().plus(MAX_KEY_AGE)) && !now.isBefore(c.fetchedAt())
                && !c.key().getSignedExpiry().isBefore(urlExpiry);
    }
}
