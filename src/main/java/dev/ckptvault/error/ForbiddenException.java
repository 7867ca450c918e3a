package dev.ckptvault.error;

/** The caller's identity lacks a permission the operation needs (403); the message names the role. */
public class ForbiddenException extends ApiException {
    public ForbiddenException(String code, String message, String target) {
        super(code, message, target, null);
    }
}
