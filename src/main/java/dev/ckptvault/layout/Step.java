package dev.ckptvault.layout;

import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;

/** A training step: 0 <= step < 10^12, written zero-padded to 12 digits in blob names. */
public record Step(long value) implements Comparable<Step> {
    public static final long LIMIT = 1_000_000_000_000L;

    public Step {
        if (value < 0 || value >= LIMIT) {
            throw invalid("step");
        }
    }

    public static Step of(long value) {
        return new Step(value);
    }

    /** Parses a route or query value; only plain decimal digits are accepted. */
    public static Step parse(String text, String target) {
        if (text == null || text.isEmpty() || text.length() > 12) {
            throw invalid(target);
        }
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw invalid(target);
            }
        }
        return new Step(Long.parseLong(text));
    }

    private static InvalidInputException invalid(String target) {
        return new InvalidInputException(ErrorCodes.INVALID_STEP,
                "step must be an integer with 0 <= step < 1000000000000", target);
    }

    private static final String ZEROS = "000000000000";

    /**
     * The step's folder name, e.g. step-000000001200. Built by hand: it is part of every blob
     * name, so an uploads call of 1,024 files builds it 1,024 times, and a format string would
     * cost a third of the call's signing time.
     */
    public String folder() {
        String digits = Long.toString(value);
        return "step-" + ZEROS.substring(digits.length()) + digits;
    }

    @Override
    public int compareTo(Step o) {
        return Long.compare(value, o.value);
    }

    @Override
    public String toString() {
        return Long.toString(value);
    }
}
