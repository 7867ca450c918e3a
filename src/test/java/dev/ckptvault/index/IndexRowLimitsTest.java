package dev.ckptvault.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.TestApp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Index rows stay within Table Storage's limits (a string property holds at most 32,768
 * characters; Azurite enforces it as Azure does) whatever a checkpoint lists: lists in a row are
 * capped by size, not only by count.
 */
class IndexRowLimitsTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static TestApp ctx;

    @BeforeAll
    static void setUp() {
        ctx = AZURITE.app();
    }

    @Test
    void aCheckpointRowWithLongMissingAndExtraListsAndManyMetricsIsWritten() {
        List<String> longPaths = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            longPaths.add(String.format("rank-%05d/", i) + "x".repeat(501));
        }
        Map<String, Double> metrics = new TreeMap<>();
        for (int i = 0; i < 256; i++) {
            metrics.put(String.format("%03d", i) + "m".repeat(125), -1.2345678901234567E-200);
        }
        Instant now = Instant.now();
        Checkpoint c = new Checkpoint("limits", 1, CheckpointState.COMMITTING, "hot", List.of(), longPaths, longPaths,
                0, metrics, false, now, null, now);
        assertTrue(ctx.index.putCheckpoint(c, null, null), "a new row is created");

        Checkpoint read = ctx.index.checkpoint(CheckpointId.of("limits", 1)).orElseThrow().summary();
        assertEquals(CheckpointState.COMMITTING, read.state());
        assertFalse(read.missing().isEmpty());
        assertTrue(read.missing().size() < longPaths.size(), "capped: " + read.missing().size());
        assertEquals(longPaths.subList(0, read.missing().size()), read.missing(), "a prefix of the list, in order");
        assertEquals(read.missing(), read.extra());
    }
}
