package dev.ckptvault.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class BlobNameTest {
    @Test
    void parsesEveryKindOfBlobInTheLayout() {
        assertEquals(new BlobName.RunRecord(new RunId("r1")), BlobName.parse("r1/_run.json").orElseThrow());
        assertEquals(new BlobName.File(CheckpointId.of("r1", 12), new RelativePath("rank-0/a.bin")),
                BlobName.parse("r1/step-000000000012/rank-0/a.bin").orElseThrow());
        assertEquals(new BlobName.Record(CheckpointId.of("r1", 12), BlobName.Kind.COMMIT),
                BlobName.parse("r1/step-000000000012/_commit.json").orElseThrow());
        assertEquals(new BlobName.Record(CheckpointId.of("r1", 12), BlobName.Kind.TOMBSTONE),
                BlobName.parse("r1/step-000000000012/_tombstone.json").orElseThrow());
    }

    @ParameterizedTest
    @ValueSource(strings = {"loose.bin", "r1/other.bin", "r1/step-12/a.bin", "r1/step-00000000001x/a",
            "r1/step-000000000012/_other.json", "r1/step-000000000012/", "-r/step-000000000012/a",
            "r1/step-000000000012/a/../b", "r1/step-0000000000012/a", "r1/step-٠٠٠٠٠٠٠٠٠٠١٢/a"})
    void ignoresBlobsOutsideTheLayout(String name) {
        assertTrue(BlobName.parse(name).isEmpty(), name);
    }
}
