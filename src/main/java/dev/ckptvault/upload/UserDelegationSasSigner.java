package dev.ckptvault.upload;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.models.UserDelegationKey;
import dev.ckptvault.storage.StorageCalls;
import java.time.Clock;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.function.BiFunction;

/**
 * User delegation SAS signed with a key obtained by the app's managed identity, so no account key
 * exists in the app at all. The key is cached and renewed well before it expires: every URL's
 * expiry must fall inside the key's validity, and fetching a key is a round trip to storage.
 */
public final class UserDelegationSasSigner extends SdkSasSigner {
    /** Azure allows delegation keys of at most seven days. */
    static final Duration MAX_KEY_VALIDITY = Duration.ofDays(7);

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
    Signer prepare(com.azure.storage.blob.sas.BlobServiceSasSignatureValues values, OffsetDateTime expiry) {
        UserDelegationKey key = keyCovering(expiry);
        return (blob, v) -> blob.generateUserDelegationSas(v, key);
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
