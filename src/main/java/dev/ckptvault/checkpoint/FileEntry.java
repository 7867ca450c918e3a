package dev.ckptvault.checkpoint;

/**
 * One file of a checkpoint as the API shows it.
 *
 * @param sha256    as the manifest gave it, or null
 * @param url       a read URL when downloads were asked for, else null
 * @param versionId for a committed file on an account with blob versioning, the version the commit
 *                  record means (its read URL addresses that version); else null
 */
public record FileEntry(String path, long size, String etag, String sha256, String url, String versionId) {
    public FileEntry(String path, long size, String etag, String sha256, String url) {
        this(path, size, etag, sha256, url, null);
    }

    public FileEntry withUrl(String readUrl) {
        return new FileEntry(path, size, etag, sha256, readUrl, versionId);
    }
}
