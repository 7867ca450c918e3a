package dev.ckptvault.checkpoint;

import java.time.Instant;
import java.time.format.DateTimeParseException;

/**
 * What the attempt record ({@code _attempt.json}) says about its attempt. The blob's own
 * Last-Modified marks the attempt's start until the first renewal; a renewal (a write-URL request
 * of the open attempt) sets metadata, which moves Last-Modified, so the start is then kept in
 * metadata {@value #START} (storage's time, as listed: files are compared with it in storage's
 * clock) and the renewal's time in {@value #ACTIVE}.
 */
public final class Attempts {
    /** Metadata: the attempt's start, storage's Last-Modified of the record when it was written. */
    public static final String START = "attemptStart";
    /** Metadata: the last write-URL request of the attempt (the app's clock). */
    public static final String ACTIVE = "activeAt";
    /**
     * Metadata, "true" on the record of a step's first attempt: the step held no record at all
     * when it was opened, so no earlier attempt (and no URL of one) left anything under it.
     */
    public static final String FIRST = "firstAttempt";

    private Attempts() {
    }

    /** When the attempt began; EPOCH without an attempt record (files are then never "too old"). */
    public static Instant start(StoredBlob attempt) {
        if (attempt == null) {
            return Instant.EPOCH;
        }
        Instant kept = instant(attempt.metadataValue(START));
        return kept != null ? kept : attempt.lastModified();
    }

    /** Whether the record marks a step's first attempt ({@link #FIRST}). */
    public static boolean first(StoredBlob attempt) {
        return attempt != null && "true".equals(attempt.metadataValue(FIRST));
    }

    /** The newest sign of life the record holds: its write, or the last renewal. */
    public static Instant lastActive(StoredBlob attempt) {
        if (attempt == null) {
            return Instant.EPOCH;
        }
        Instant active = instant(attempt.metadataValue(ACTIVE));
        return active != null && active.isAfter(attempt.lastModified()) ? active : attempt.lastModified();
    }

    private static Instant instant(String text) {
        if (text == null) {
            return null;
        }
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            // Written out of band: ignored, the blob's own times apply.
            return null;
        }
    }
}
