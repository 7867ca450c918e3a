package dev.ckptvault.storage;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * Signs blob URLs for one validity window. Implementations sign with the SDK's own SAS code: its
 * string-to-sign is the reference, and a hand-written one would be a security risk.
 */
public interface SasSigner {
    /** Signs one URL per blob name, in order, all with the same permission and window. */
    List<String> sign(List<String> blobNames, Access access, OffsetDateTime start, OffsetDateTime expiry);

    /**
     * The earlier of {@code expiry} and {@code notAfter} (the expiry of the credential the URL is
     * issued to), in whole seconds rounded down: a SAS expiry has no finer unit, and rounding up
     * would let the URL outlive the credential.
     */
    static OffsetDateTime cappedExpiry(OffsetDateTime expiry, Instant notAfter) {
        if (notAfter.isBefore(expiry.toInstant())) {
            return OffsetDateTime.ofInstant(notAfter.truncatedTo(ChronoUnit.SECONDS), ZoneOffset.UTC);
        }
        return expiry;
    }

    /**
     * Read URLs, one per blob, each for the given version where one is given (a version SAS,
     * {@code sr=bv}, signed over the version id, with {@code versionid=} in the URL: it reads
     * exactly that version, whatever is written to the blob later), else for the blob.
     *
     * @param versionIds one per blob name, each null or a version id
     */
    List<String> signReads(List<String> blobNames, List<String> versionIds, OffsetDateTime start, OffsetDateTime expiry);

    /** What a URL allows: create+write for one blob name, or read only. */
    enum Access { WRITE, READ }
}
