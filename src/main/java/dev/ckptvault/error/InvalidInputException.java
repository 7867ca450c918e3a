package dev.ckptvault.error;

/** The request is malformed or violates a rule of the contract (400). */
public class InvalidInputException extends ApiException {
    public InvalidInputException(String code, String message, String target) {
        super(code, message, target, null);
    }
}
