package dev.ckptvault.checkpoint;

/**
 * One file of a checkpoint as the API shows it.
 *
 * @param sha256 as the manifest gave it, or null
 * @param url    a read URL when downloads were asked for, else null
 */
public record FileEntry(String path, long size, String etag, String sha256, String url) {
    public FileEntry withUrl(String readUrl) {
        return new FileEntry(path, size, etag, sha256, readUrl);
    }
}
