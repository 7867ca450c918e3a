package dev.ckptvault.storage;

import com.azure.storage.blob.BlobClient;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import dev.ckptvault.config.StorageSettings;
import java.time.OffsetDateTime;

/**
 * Service SAS signed with the account key (connection strings, Azurite). The key stays in the
 * client built from the connection string; it never appears in an answer or a log line.
 */
public final class AccountKeySasSigner extends SdkSasSigner {
    private static final Signer SIGNER = BlobClient::generateSas;

    public AccountKeySasSigner(BlobContainerClient container, boolean httpsOnly) {
        super(container, httpsOnly);
    }

    /** HTTPS-only URLs in Azure; on the emulator plain HTTP too, signed in the version it speaks. */
    public AccountKeySasSigner(BlobContainerClient container, StorageSettings storage) {
        super(container, !storage.isEmulator());
        if (storage.isEmulator()) {
            pinEmulatorSasVersion();
        }
    }

    @Override
    Signer prepare(BlobServiceSasSignatureValues values, OffsetDateTime expiry) {
        return SIGNER;
    }
}
