package dev.ckptvault.access;

import java.util.Optional;

/** What a run token allows: {@code write} (uploads, commit and every read of its run) or {@code read}. */
public enum Scope {
    READ("read"), WRITE("write");

    private final String text;

    Scope(String text) {
        this.text = text;
    }

    /** The lower-case name used in tokens and in the API. */
    public String text() {
        return text;
    }

    /** Whether a token of this scope may do what {@code needed} names. */
    public boolean covers(Scope needed) {
        return this == WRITE || needed == READ;
    }

    /** Exactly {@code read} or {@code write}; anything else is empty. */
    public static Optional<Scope> parse(String text) {
        for (Scope s : values()) {
            if (s.text.equals(text)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return text;
    }
}
