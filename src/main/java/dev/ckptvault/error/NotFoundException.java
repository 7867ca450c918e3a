package dev.ckptvault.error;

/** The named run or checkpoint does not exist, or has nothing of the kind asked for (404). */
public class NotFoundException extends ApiException {
    public NotFoundException(String code, String message, String target) {
        super(code, message, target, null);
    }
}
