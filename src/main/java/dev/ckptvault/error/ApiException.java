package dev.ckptvault.error;

/**
 * Base of every error the API answers with a JSON body. The HTTP status is chosen by the
 * subclass type in {@link dev.ckptvault.http.ErrorMapper}, never from the message text.
 */
public abstract class ApiException extends RuntimeException {
    private final String code;
    private final String target;

    protected ApiException(String code, String message, String target, Throwable cause) {
        super(message, cause);
        this.code = code;
        this.target = target;
    }

    public String code() {
        return code;
    }

    /** The request field, route parameter or setting the error is about, or null. */
    public String target() {
        return target;
    }
}
