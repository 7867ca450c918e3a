package dev.ckptvault.upload;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.JsonFields;
import dev.ckptvault.layout.RelativePath;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A rank's request for write URLs: its own file list and how long the URLs should live.
 *
 * @param lifetime empty: the configured default; longer than the maximum is clamped by the service
 */
public record UploadRequest(List<FileRequest> files, Optional<Duration> lifetime) {
    /** Largest block blob Azure stores: 50,000 blocks of 4,000 MiB. */
    public static final long MAX_FILE_SIZE = 50_000L * 4_000 * 1024 * 1024;

    /** @param size empty when the rank did not say */
    public record FileRequest(RelativePath path, Optional<Long> size) {
    }

    public UploadRequest {
        files = List.copyOf(files);
        if (files.isEmpty()) {
            throw new InvalidInputException(ErrorCodes.INVALID_REQUEST, "files must list at least one file", "files");
        }
    }

    public static UploadRequest fromJson(JsonNode body, int maxFiles) {
        JsonFields root = JsonFields.object(body, "", ErrorCodes.INVALID_REQUEST);
        JsonNode array = root.requiredArray("files");
        if (array.size() > maxFiles) {
            throw new InvalidInputException(ErrorCodes.TOO_MANY_FILES,
                    "files lists " + array.size() + " entries; at most " + maxFiles + " per request", "files");
        }
        List<FileRequest> files = new ArrayList<>(array.size());
        Map<String, Integer> seen = new HashMap<>();
        for (int i = 0; i < array.size(); i++) {
            JsonFields f = JsonFields.object(array.get(i), "files[" + i + "]", ErrorCodes.INVALID_REQUEST);
            String raw = f.requiredString("path");
            RelativePath path = RelativePath.parse(raw, f.name("path"));
            Integer first = seen.putIfAbsent(path.value(), i);
            if (first != null) {
                throw new InvalidInputException(ErrorCodes.DUPLICATE_PATH,
                        f.name("path") + " repeats files[" + first + "].path '" + path + "'", f.name("path"));
            }
            files.add(new FileRequest(path, f.optionalLong("size", 0, MAX_FILE_SIZE)));
        }
        Optional<Duration> lifetime = root.optionalLong("expiresInMinutes", 1, 7L * 24 * 60)
                .map(Duration::ofMinutes);
        return new UploadRequest(files, lifetime);
    }
}
