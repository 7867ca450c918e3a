package dev.ckptvault.access;

import java.time.Instant;

/** The answer of POST /api/manage/runs/{runId}/tokens. A credential: never logged, never printed. */
public record IssuedToken(String token, String runId, String scope, Instant expiresOn) {
    @Override
    public String toString() {
        return "IssuedToken[runId=" + runId + ", scope=" + scope + ", expiresOn=" + expiresOn + "]";
    }
}
