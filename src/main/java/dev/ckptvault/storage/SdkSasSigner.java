package dev.ckptvault.storage;

import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.implementation.util.BlobSasImplUtil;
import com.azure.storage.blob.sas.BlobSasPermission;
import com.azure.storage.blob.sas.BlobServiceSasSignatureValues;
import com.azure.storage.common.sas.SasProtocol;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;

/**
 * Shared part of both signers: one signature-values object per request (permissions, window and
 * protocol are the same for every file), then the SDK's own SAS code once per blob.
 *
 * <p>{@code BlobClient.generateSas} is a thin shell around {@link BlobSasImplUtil}: it builds the
 * util from the client's container, blob, version and encryption scope and signs. Building a
 * {@code BlobClient} per name (URL encoding, a new async client) cost about three times the
 * signing itself, so this calls the util directly with the same arguments the client would pass
 * (no encryption scope, no snapshot: this app's clients set neither). The string-to-sign stays the
 * SDK's; {@code SasSignerTest} checks every variant against {@code BlobClient}'s output, so an SDK
 * upgrade that changes the util shows there, not in production.
 */
abstract class SdkSasSigner implements SasSigner {
    private static final BlobSasPermission WRITE = new BlobSasPermission().setCreatePermission(true)
            .setWritePermission(true);
    private static final BlobSasPermission READ = new BlobSasPermission().setReadPermission(true);

    private final String containerName;
    private final String containerUrl;
    private final SasProtocol protocol;

    SdkSasSigner(BlobContainerClient container, boolean httpsOnly) {
        this.containerName = container.getBlobContainerName();
        this.containerUrl = container.getBlobContainerUrl() + "/";
        this.protocol = httpsOnly ? SasProtocol.HTTPS_ONLY : SasProtocol.HTTPS_HTTP;
    }

    @Override
    public List<String> sign(List<String> blobNames, Access access, OffsetDateTime start, OffsetDateTime expiry) {
        return sign(blobNames, null, access, start, expiry);
    }

    @Override
    public List<String> signReads(List<String> blobNames, List<String> versionIds, OffsetDateTime start,
                                  OffsetDateTime expiry) {
        if (versionIds.size() != blobNames.size()) {
            throw new IllegalArgumentException("one version id (or null) per blob name");
        }
        return sign(blobNames, versionIds, Access.READ, start, expiry);
    }

    private List<String> sign(List<String> blobNames, List<String> versionIds, Access access, OffsetDateTime start,
                              OffsetDateTime expiry) {
        BlobServiceSasSignatureValues values = new BlobServiceSasSignatureValues(expiry,
                access == Access.WRITE ? WRITE : READ)
                .setStartTime(start)
                .setProtocol(protocol);
        Signer signer = prepare(values, expiry);
        List<String> urls = new ArrayList<>(blobNames.size());
        for (int i = 0; i < blobNames.size(); i++) {
            String name = blobNames.get(i);
            String version = versionIds == null ? null : versionIds.get(i);
            // As BlobClient.generateSas: the SDK decodes nothing here; layout names are plain ASCII
            // without reserved characters, so the readable URL with '/' is the same resource as the
            // SDK's %2F-encoded one.
            String sas = signer.sign(new BlobSasImplUtil(values, containerName, name, null, version, null));
            if (version == null) {
                urls.add(containerUrl + name + "?" + sas);
            } else {
                // With a version id the SDK signs a version SAS: sr=bv over the version id.
                urls.add(containerUrl + name + "?versionid=" + URLEncoder.encode(version, StandardCharsets.UTF_8)
                        + "&" + sas);
            }
        }
        return urls;
    }

    /**
     * Signs with the emulator's service version from now on, unless the operator chose one.
     * Azurite 3.35 checks user delegation signatures only in the string-to-sign layouts up to
     * 2026-02-06, while the SDK signs with its newest version. The SDK reads
     * {@value #SAS_VERSION_SETTING} once per process, when it signs its first SAS, so this has to
     * run before that; in Azure it never runs and the SDK's own version applies.
     */
    static void pinEmulatorSasVersion() {
        if (System.getProperty(SAS_VERSION_SETTING) == null && System.getenv(SAS_VERSION_SETTING) == null) {
            System.setProperty(SAS_VERSION_SETTING, StorageClients.EMULATOR_BLOB_VERSION.getVersion());
        }
    }

    static final String SAS_VERSION_SETTING = "AZURE_STORAGE_SAS_SERVICE_VERSION";

    /** Work done once per request (e.g. fetching a delegation key), then a per-blob signing step. */
    abstract Signer prepare(BlobServiceSasSignatureValues values, OffsetDateTime expiry);

    interface Signer {
        String sign(BlobSasImplUtil blob);
    }
}
