package dev.ckptvault.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import dev.ckptvault.error.InvalidInputException;

class RelativePathTest {
    @ParameterizedTest
    @ValueSource(strings = {"model.safetensors", "rank-00000/model.safetensors", "a/b/c/d.bin", "opt.pt.0",
            "x_y", "a/b_", ".hidden", "a/..b/c.."})
    void acceptsSegmentsOfTheAllowedCharacters(String value) {
        assertEquals(value, RelativePath.parse(value, "files[0].path").value());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "/abs", "a//b", "a/", "..", "../x", "a/../b", ".", "a/./b", "a\\b", "%2e%2e/x",
            "a%2fb", "a\u0000b", "a\tb", "a\nb", "a b", "_manifest.json", "a/_commit.json", "_x/y",
            "rank\u2215a", "ｍodel.pt", "mödel.pt", "a\u200bb", "a/\u2024\u2024/b", "C:\\x"})
    void refusesPathsOutsideTheLayout(String value) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> RelativePath.parse(value, "files[3].path"));
        assertEquals("InvalidPath", e.code());
        assertEquals("files[3].path", e.target());
    }

    @Test
    void refusesPathsLongerThanABlobName() {
        assertThrows(InvalidInputException.class, () -> RelativePath.parse("a".repeat(1025), "path"));
    }

    @Test
    void refusesAPathLongerThanAnIndexKeyAndTheLongestFitsEveryBlobName() {
        // A file's index row is keyed by its path: at most 512 characters.
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> RelativePath.parse("p".repeat(513), "files[0].path"));
        assertEquals("files[0].path", e.target());
        RelativePath longest = RelativePath.parse("p".repeat(RelativePath.MAX_PATH), "files[0].path");
        CheckpointId id = CheckpointId.of("r".repeat(128), 5);
        assertTrue(id.fileBlob(longest, "files[0].path").length() <= RelativePath.MAX_BLOB_NAME);
    }

    @Test
    void blobNamesFollowTheLayout() {
        CheckpointId id = CheckpointId.of("run-1", 1200);
        assertEquals("run-1/step-000000001200/rank-0/m.pt",
                id.fileBlob(new RelativePath("rank-0/m.pt"), "path"));
        assertEquals("run-1/step-000000001200/_manifest.json", id.manifestBlob());
    }
}
