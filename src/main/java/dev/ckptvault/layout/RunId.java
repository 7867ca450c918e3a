package dev.ckptvault.layout;

import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import java.util.regex.Pattern;

/** A training run's id: 1-128 chars of [A-Za-z0-9._-], starting with a letter or digit. */
public record RunId(String value) implements Comparable<RunId> {
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public RunId {
        if (value == null || !VALID.matcher(value).matches()) {
            throw new InvalidInputException(ErrorCodes.INVALID_RUN_ID,
                    "runId must be 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit",
                    "runId");
        }
    }

    public static RunId of(String value) {
        return new RunId(value);
    }

    public static boolean isValid(String value) {
        return value != null && VALID.matcher(value).matches();
    }

    /** Blob name prefix of everything the run owns, ending with '/'. */
    public String prefix() {
        return value + "/";
    }

    @Override
    public int compareTo(RunId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
