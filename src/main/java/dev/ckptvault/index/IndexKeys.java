package dev.ckptvault.index;

import dev.ckptvault.layout.CheckpointId;

/**
 * Table keys of the index. Partition "_runs" holds one row per run; partition {runId} one row per
 * checkpoint with RowKey = inverted zero-padded step (newest sorts first); partition
 * {runId}:{step} one row per file with RowKey = path ('/' written as ':', which paths never
 * contain: RowKeys may not hold '/'); partition "_open" one row per unsettled checkpoint. Run ids
 * never start with '_' and never contain ':', so the partitions cannot collide. Partition {runId}
 * also holds the run's latest-committed pointer, RowKey {@value #LATEST}: letters sort after every
 * 12-digit checkpoint key, so queries of checkpoint rows bound RowKey by {@link #LAST_CHECKPOINT_ROW}.
 */
public final class IndexKeys {
    public static final String RUNS = "_runs";
    public static final String OPEN = "_open";
    private static final long MAX_STEP = 999_999_999_999L;
    /** The pointer row's key in a run's partition: kept in that partition so it can change in one transaction with a checkpoint row. */
    public static final String LATEST = "latest";
    /** The highest checkpoint RowKey (step 0): every checkpoint row sorts at or below it, the pointer above. */
    public static final String LAST_CHECKPOINT_ROW = String.format("%012d", MAX_STEP);

    private IndexKeys() {
    }

    public static String checkpointRow(long step) {
        return String.format("%012d", MAX_STEP - step);
    }

    public static long stepOfRow(String rowKey) {
        return MAX_STEP - Long.parseLong(rowKey);
    }

    public static String filePartition(CheckpointId id) {
        return id.run().value() + ":" + String.format("%012d", id.step().value());
    }

    public static String fileRow(String path) {
        return path.replace('/', ':');
    }

    public static String pathOfRow(String rowKey) {
        return rowKey.replace(':', '/');
    }

    public static String openRow(CheckpointId id) {
        return filePartition(id);
    }

    /** Escapes a value for an OData filter string literal. */
    public static String literal(String value) {
        return "'" + value.replace("'", "''") + "'";
    }
}
