package dev.ckptvault.layout;

import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;

/**
 * A checkpoint file's path inside its step folder: '/'-separated segments of [A-Za-z0-9._-],
 * no '.' or '..' segment, no segment starting with '_' (reserved for app-written records).
 * ASCII only, so percent-encodings, backslashes, control characters and Unicode look-alikes
 * never reach a blob name.
 */
public record RelativePath(String value) implements Comparable<RelativePath> {
    /** Longest blob name Azure accepts. */
    public static final int MAX_BLOB_NAME = 1024;
    /**
     * Longest path: a file's index row is keyed by its path, and a Table Storage RowKey holds at
     * most 512 characters (1 KiB of UTF-16). Longer paths would be accepted and then fail the
     * index write after the commit record exists.
     */
    public static final int MAX_PATH = 512;

    public RelativePath {
        String problem = problem(value);
        if (problem != null) {
            throw new InvalidInputException(ErrorCodes.INVALID_PATH, "path " + problem, "path");
        }
    }

    /** Parses a path from a request, naming the field it came from in the error. */
    public static RelativePath parse(String value, String target) {
        String problem = problem(value);
        if (problem != null) {
            throw new InvalidInputException(ErrorCodes.INVALID_PATH, target + " " + problem, target);
        }
        return new RelativePath(value);
    }

    public static boolean isValid(String value) {
        return problem(value) == null;
    }

    private static String problem(String value) {
        if (value == null || value.isEmpty()) {
            return "must not be empty";
        }
        if (value.length() > MAX_PATH) {
            return "is " + value.length() + " characters long; at most " + MAX_PATH + " (the index keys files by path)";
        }
        if (value.charAt(0) == '/') {
            return "must be relative (no leading '/')";
        }
        int segmentStart = 0;
        for (int i = 0; i <= value.length(); i++) {
            char c = i < value.length() ? value.charAt(i) : '/';
            if (c == '/') {
                String segment = value.substring(segmentStart, i);
                if (segment.isEmpty()) {
                    return "must not contain empty segments ('//' or a trailing '/')";
                }
                if (segment.equals(".") || segment.equals("..")) {
                    return "must not contain '.' or '..' segments";
                }
                if (segment.charAt(0) == '_') {
                    return "must not contain segments starting with '_' (reserved)";
                }
                segmentStart = i + 1;
            } else if (!isAllowed(c)) {
                return "may only contain A-Z a-z 0-9 . _ - and '/' between segments";
            }
        }
        return null;
    }

    private static boolean isAllowed(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '.' || c == '_' || c == '-';
    }

    @Override
    public int compareTo(RelativePath o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
