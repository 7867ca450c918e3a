package dev.ckptvault.storage;

import com.azure.core.credential.TokenCredential;
import com.azure.data.tables.TableClient;
import com.azure.data.tables.TableServiceClient;
import com.azure.data.tables.TableServiceClientBuilder;
import com.azure.identity.DefaultAzureCredentialBuilder;
import com.azure.identity.ManagedIdentityCredentialBuilder;
import com.azure.storage.blob.BlobContainerClient;
import com.azure.storage.blob.BlobServiceClient;
import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.blob.BlobServiceVersion;
import com.azure.storage.common.StorageSharedKeyCredential;
import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.config.StorageSettings;
import java.time.Duration;
import java.util.Optional;
import com.azure.core.http.policy.ExponentialBackoffOptions;
import com.azure.core.http.policy.RetryOptions;
import com.azure.storage.common.policy.RequestRetryOptions;
import com.azure.storage.common.policy.RetryPolicyType;

/**
 * The storage clients of the app, built once from the config and shared: SDK clients are
 * thread-safe and hold connection pools, so building one per request would waste both.
 */
public final class StorageClients {
    /**
     * Azurite 3.35 refuses the SDK's newest service version; this one it serves, and Azure does too.
     */
    public static final BlobServiceVersion EMULATOR_BLOB_VERSION = BlobServiceVersion.V2025_11_05;

    private final StorageSettings settings;
    private final BlobServiceClient blobService;
    private final BlobContainerClient container;
    private final BlobContainerClient keysContainer;
    private final TableServiceClient tableService;
    private final TableClient indexTable;
    private final StorageSharedKeyCredential sharedKey;

    public StorageClients(CkptConfig config) {
        this.settings = config.storage();
        BlobServiceClientBuilder blobs = new BlobServiceClientBuilder();
        TableServiceClientBuilder tables = new TableServiceClientBuilder();
        if (settings.usesConnectionString()) {
            String cs = settings.effectiveConnectionString();
            blobs.connectionString(cs);
            tables.connectionString(cs);
            this.sharedKey = sharedKeyOf(cs).orElse(null);
        } else {
            TokenCredential credential = credential(settings);
            blobs.endpoint(settings.blobServiceUri().toString()).credential(credential);
            tables.endpoint(settings.tableServiceUri().toString()).credential(credential);
            this.sharedKey = null;
        }
        if (settings.isEmulator()) {
            blobs.serviceVersion(EMULATOR_BLOB_VERSION);
        }
        // A request waits on storage at most a few seconds before answering 503: the SDK's default
        // backoff (4 tries, up to 120 s) would hold trainers and Event Grid deliveries far longer.
        blobs.retryOptions(new RequestRetryOptions(RetryPolicyType.EXPONENTIAL, 3, Duration.ofSeconds(60),
                Duration.ofMillis(200), Duration.ofSeconds(2), null));
        tables.retryOptions(new RetryOptions(new ExponentialBackoffOptions().setMaxRetries(2)
                .setBaseDelay(Duration.ofMillis(200)).setMaxDelay(Duration.ofSeconds(2))));
        this.blobService = blobs.buildClient();
        this.container = blobService.getBlobContainerClient(config.container());
        this.keysContainer = blobService.getBlobContainerClient(config.keysContainer());
        this.tableService = tables.buildClient();
        this.indexTable = tableService.getTableClient(config.indexTable());
    }

    /**
     * The app's one identity, for every Entra sign-in it makes (storage, the events topic, ARM):
     * with identity-based storage the managed identity the settings name (CKPT_STORAGE__credential,
     * __clientId); with a connection string, which names no identity, DefaultAzureCredential.
     */
    public static TokenCredential appIdentity(StorageSettings s) {
        return s.usesConnectionString() ? new DefaultAzureCredentialBuilder().build() : credential(s);
    }

    /** The identity the app signs in with in identity mode; also used for its ARM calls. */
    public static TokenCredential credential(StorageSettings s) {
        if ("managedidentity".equalsIgnoreCase(s.credential())) {
            ManagedIdentityCredentialBuilder b = new ManagedIdentityCredentialBuilder();
            if (s.clientId() != null) {
                b.clientId(s.clientId());
            }
            return b.build();
        }
        DefaultAzureCredentialBuilder b = new DefaultAzureCredentialBuilder();
        if (s.clientId() != null) {
            b.managedIdentityClientId(s.clientId());
        }
        return b.build();
    }

    /** Account name and key from a connection string, when it carries them. */
    static Optional<StorageSharedKeyCredential> sharedKeyOf(String connectionString) {
        String name = null;
        String key = null;
        for (String part : connectionString.split(";")) {
            int eq = part.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String k = part.substring(0, eq).trim();
            String v = part.substring(eq + 1).trim();
            if (k.equalsIgnoreCase("AccountName")) {
                name = v;
            } else if (k.equalsIgnoreCase("AccountKey")) {
                key = v;
            }
        }
        return name != null && key != null ? Optional.of(new StorageSharedKeyCredential(name, key)) : Optional.empty();
    }

    public StorageSettings settings() {
        return settings;
    }

    public BlobServiceClient blobService() {
        return blobService;
    }

    public BlobContainerClient container() {
        return container;
    }

    /** The app's private container of token-signing keys and revocation markers; no URL is ever signed for it. */
    public BlobContainerClient keysContainer() {
        return keysContainer;
    }

    public TableServiceClient tableService() {
        return tableService;
    }

    public TableClient indexTable() {
        return indexTable;
    }

    /** The account key when connected by connection string; empty with managed identity. */
    public Optional<StorageSharedKeyCredential> sharedKey() {
        return Optional.ofNullable(sharedKey);
    }
}
