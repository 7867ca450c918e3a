package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminKeyFileTest {
    @Test
    void theFirstStartMakesAnOwnerOnlyKeyFileAndLaterStartsReuseIt(@TempDir Path dir) throws IOException {
        Path data = dir.resolve(".azurite");
        AdminKeyFile.Resolved first = AdminKeyFile.resolve(data);
        assertTrue(first.created());
        assertEquals(data.resolve("admin-key"), first.file());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first.file())));
        assertTrue(first.key().length() >= 43, "256 random bits");
        assertFalse(first.toString().contains(first.key()), "printing it does not print the key");

        AdminKeyFile.Resolved again = AdminKeyFile.resolve(data);
        assertFalse(again.created());
        assertEquals(first.key(), again.key());

        assertNotEquals(first.key(), AdminKeyFile.resolve(dir.resolve("other")).key(), "each data folder its own key");
    }

    /**
     * A base64url key began with '-' one time in 64, and `ckptvault --admin-key KEY` then read it
     * as an option ("expected one argument"): the Python CLI test failed on such a key.
     */
    @Test
    void aMadeKeyNeverStartsWithADashSoItCanFollowAnOption() throws IOException {
        for (int i = 0; i < 1000; i++) {
            AdminKeyFile.Resolved r = AdminKeyFile.resolve(null);
            assertFalse(r.key().startsWith("-"), "key " + i + " starts with '-'");
            Files.delete(r.file());
        }
    }

    @Test
    void aKeyFileOthersCouldReadIsNarrowedAgain(@TempDir Path dir) throws IOException {
        AdminKeyFile.Resolved r = AdminKeyFile.resolve(dir);
        Files.setPosixFilePermissions(r.file(), PosixFilePermissions.fromString("rw-r--r--"));
        AdminKeyFile.resolve(dir);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(r.file())));
    }

    @Test
    void aFileWithoutAUsableKeyIsNamedNotUsed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("admin-key"), "short\n");
        IOException e = assertThrows(IOException.class, () -> AdminKeyFile.resolve(dir));
        assertTrue(e.getMessage().contains(dir.resolve("admin-key").toString()), e.getMessage());
    }

    @Test
    void withoutADataFolderTheKeyIsInAnOwnerOnlyTemporaryFile() throws IOException {
        AdminKeyFile.Resolved r = AdminKeyFile.resolve(null);
        assertTrue(Files.exists(r.file()));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(r.file())));
        assertEquals(r.key(), Files.readString(r.file()).strip());
    }
}
