package dev.ckptvault.access;

import dev.ckptvault.layout.RunId;
import java.time.Instant;
import java.util.Objects;

/**
 * What a verified token lets one request do: its run, its scope, until when (no URL issued for the
 * request may outlive it), and the token's id for logs.
 */
public record Grant(RunId run, Scope scope, Instant expiresAt, String tokenId) {
    public Grant {
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(expiresAt, "expiresAt");
        Objects.requireNonNull(tokenId, "tokenId");
    }
}
