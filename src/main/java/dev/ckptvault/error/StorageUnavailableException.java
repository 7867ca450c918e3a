package dev.ckptvault.error;

/**
 * Storage or the index could not be reached or answered with a server error (503). Event handlers
 * let it propagate so that Event Grid retries the delivery.
 */
public class StorageUnavailableException extends ApiException {
    public StorageUnavailableException(String message, Throwable cause) {
        super(ErrorCodes.STORAGE_UNAVAILABLE, message, null, cause);
    }
}
