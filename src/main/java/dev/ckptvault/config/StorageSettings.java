package dev.ckptvault.config;

import java.net.URI;
import java.util.Locale;

/**
 * How to reach the checkpoint account: a connection string (local emulator or shared key), or
 * the Functions identity-based style (service URIs + managed identity).
 *
 * @param connectionString null in identity mode
 * @param blobServiceUri   null in connection-string mode
 * @param tableServiceUri  null in connection-string mode
 * @param credential       "managedidentity" (default) or "workload"/"default" for DefaultAzureCredential
 * @param clientId         user-assigned identity's client id, or null
 */
public record StorageSettings(String connectionString, URI blobServiceUri, URI tableServiceUri,
                              String credential, String clientId) {
    public static final String DEVELOPMENT_STORAGE = "UseDevelopmentStorage=true";
    /** The emulator's published, well-known development key (not a secret). */
    public static final String EMULATOR_ACCOUNT = "devstoreaccount1";
    public static final String EMULATOR_KEY =
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    public StorageSettings {
        if (connectionString == null && (blobServiceUri == null || tableServiceUri == null)) {
            throw new ConfigException("CKPT_STORAGE",
                    "is required: a connection string, or CKPT_STORAGE__blobServiceUri and CKPT_STORAGE__tableServiceUri");
        }
    }

    public static StorageSettings connectionString(String connectionString) {
        return new StorageSettings(connectionString, null, null, null, null);
    }

    public boolean usesConnectionString() {
        return connectionString != null;
    }

    /** The full connection string, expanding the development shorthand to the emulator defaults. */
    public String effectiveConnectionString() {
        if (connectionString == null) {
            return null;
        }
        if (connectionString.replace(" ", "").equalsIgnoreCase(DEVELOPMENT_STORAGE)) {
            return "DefaultEndpointsProtocol=http;AccountName=" + EMULATOR_ACCOUNT + ";AccountKey=" + EMULATOR_KEY
                    + ";BlobEndpoint=http://127.0.0.1:10000/" + EMULATOR_ACCOUNT
                    + ";TableEndpoint=http://127.0.0.1:10002/" + EMULATOR_ACCOUNT + ";";
        }
        return connectionString;
    }

    /** True when the target is Azurite (or any emulator speaking its account name on loopback). */
    public boolean isEmulator() {
        String cs = effectiveConnectionString();
        if (cs != null) {
            String lower = cs.toLowerCase(Locale.ROOT);
            return lower.contains("accountname=" + EMULATOR_ACCOUNT)
                    || lower.contains("127.0.0.1") || lower.contains("localhost");
        }
        String host = blobServiceUri.getHost();
        return host.equals("127.0.0.1") || host.equals("localhost");
    }

    @Override
    public String toString() {
        // Never print the connection string: it may hold an account key.
        return usesConnectionString()
                ? "StorageSettings[connectionString=<redacted>, emulator=" + isEmulator() + "]"
                : "StorageSettings[blob=" + blobServiceUri + ", table=" + tableServiceUri
                        + ", credential=" + credential + ", clientId=" + clientId + "]";
    }
}
