package dev.ckptvault.error;

/** The request body exceeds the configured limit (413). */
public class BodyTooLargeException extends ApiException {
    public BodyTooLargeException(long limit) {
        super(ErrorCodes.BODY_TOO_LARGE, "request body exceeds " + limit + " bytes", "body", null);
    }
}
