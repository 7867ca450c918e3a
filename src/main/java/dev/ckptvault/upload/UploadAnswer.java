package dev.ckptvault.upload;

import java.time.OffsetDateTime;
import java.util.List;

/** Write URLs for one rank's files (docs/design.md "uploads answer"). */
public record UploadAnswer(String runId, long step, OffsetDateTime expiresOn, List<Upload> uploads) {
    public record Upload(String path, String blobName, String url) {
    }
}
