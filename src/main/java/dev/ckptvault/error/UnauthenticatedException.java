package dev.ckptvault.error;

/**
 * The request carries no credential the route accepts, or one that is malformed, badly signed,
 * expired or revoked (401). The answer carries a {@code WWW-Authenticate: Bearer} challenge; the
 * message says what was wrong with the credential, never anything about the run asked for.
 */
public class UnauthenticatedException extends ApiException {
    private final boolean credentialPresented;

    public UnauthenticatedException(String message, boolean credentialPresented) {
        super(ErrorCodes.UNAUTHENTICATED, message, "Authorization", null);
        this.credentialPresented = credentialPresented;
    }

    /** The RFC 6750 challenge: {@code invalid_token} only when a token was sent and refused. */
    public String challenge() {
        return credentialPresented ? "Bearer realm=\"ckptvault\", error=\"invalid_token\"" : "Bearer realm=\"ckptvault\"";
    }
}
