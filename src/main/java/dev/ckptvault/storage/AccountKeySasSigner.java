package dev.ckptvault.storage;

import com.azure.core.util.Context;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.StorageSharedKeyCredential;
import com.azure.storage.common.implementation.SasImplUtils;
import dev.ckptvault.config.StorageSettings;
import java.time.OffsetDateTime;

/**
 * Service SAS signed with the account key (connection strings, Azurite). The key stays in the
 * client built from the connection string; it never appears in an answer or a log line.
 */
public final class AccountKeySasSigner extends SdkSasSigner {
    private final Signer signer;

    public AccountKeySasSigner(BlobContainerClient container, boolean httpsOnly) {
        super(container, httpsOnly);
        this.signer = signerOf(container);
    }

    /** HTTPS-only URLs in Azure; on the emulator plain HTTP too, signed in the version it speaks. */
    public AccountKeySasSigner(BlobContainerClient container, StorageSettings storage) {
        super(container, !storage.isEmulator());
        if (storage.isEmulator()) {
            pinEmulatorSasVersion();
        }
        this.signer = signerOf(container);
    }

    /** The key the client was built with, found where {@code BlobClient.generateSas} finds it: in its pipeline. */
    private static Signer signerOf(BlobContainerClient container) {
        StorageSharedKeyCredential key = SasImplUtils.extractSharedKeyCredential(container.getHttpPipeline());
        if (key == null) {
            throw new IllegalArgumentException("the container client carries no account key to sign with");
        }
        return util -> util.generateSas(key, Context.NONE);
    }

    @Override
    Signer prepare(BlobServiceSasSignatureValues values, OffsetDateTime expiry) {
        return signer;
    }
}
