package dev.ckptvault.storage;

import com.azure.core.exception.HttpResponseException;
import dev.ckptvault.error.StorageUnavailableException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Classifies storage failures: server errors, throttling and transport failures become
 * {@link StorageUnavailableException} (503 over HTTP, a retry for Event Grid). Client errors the
 * caller did not expect stay what they are.
 */
public final class StorageCalls {
    private StorageCalls() {
    }

    public static <T> T call(String what, Supplier<T> action) {
        try {
            return action.get();
        } catch (RuntimeException e) {
            if (isTransient(e)) {
                throw new StorageUnavailableException("storage unavailable while trying to " + what, e);
            }
            throw e;
        }
    }

    public static void run(String what, Runnable action) {
        call(what, () -> {
            action.run();
            return null;
        });
    }

    public static boolean isTransient(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StorageUnavailableException) {
                return true;
            }
            if (t instanceof HttpResponseException h && h.getResponse() != null) {
                int s = h.getResponse().getStatusCode();
                return s >= 500 || s == 408 || s == 429;
            }
            // An interrupted call (the host stopping, an invocation cancelled) may well succeed when
            // tried again: answered 503, so Event Grid redelivers rather than counting it applied.
            if (t instanceof IOException || t instanceof UncheckedIOException || t instanceof TimeoutException
                    || t instanceof InterruptedException) {
                return true;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return false;
    }

    /** Status of an HTTP error from the SDK, or -1 for anything else. */
    public static int status(Throwable e) {
        return e instanceof HttpResponseException h && h.getResponse() != null ? h.getResponse().getStatusCode() : -1;
    }
}
