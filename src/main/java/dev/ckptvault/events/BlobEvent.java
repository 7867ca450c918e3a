package dev.ckptvault.events;

import java.time.OffsetDateTime;

/**
 * A storage blob event reduced to what the index needs, whichever schema it came in.
 *
 * @param account   storage account name from the event's topic/source
 * @param eTag      null for deletions
 * @param size      -1 for deletions
 * @param sequencer per-blob order: compare as strings (Microsoft's guidance)
 */
public record BlobEvent(Kind kind, String id, String account, String container, String blobName, String eTag,
                        long size, String sequencer, OffsetDateTime eventTime) {
    public enum Kind { CREATED, DELETED }

    public static final String CREATED_TYPE = "Microsoft.Storage.BlobCreated";
    public static final String DELETED_TYPE = "Microsoft.Storage.BlobDeleted";
}
