package dev.ckptvault.error;

/** The request is valid but the stored state does not allow it (409). */
public class ConflictException extends ApiException {
    public ConflictException(String code, String message, String target) {
        super(code, message, target, null);
    }
}
