package dev.ckptvault.local;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Set;

/**
 * The local host's development admin key when none was given: made at first start from a strong
 * random source, kept in a file only its owner can read, and reused on later starts, so the
 * developer's scripts keep working. The key is never printed; where it is, is.
 */
public final class AdminKeyFile {
    public static final String NAME = "admin-key";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private AdminKeyFile() {
    }

    /** The key and where it is kept. */
    public record Resolved(String key, Path file, boolean created) {
        @Override
        public String toString() {
            return "AdminKeyFile.Resolved[file=" + file + ", created=" + created + "]";
        }
    }

    /**
     * The key in {@code dataDir/admin-key}, made there if absent; with no data folder (Azurite in
     * memory) a fresh key in a temporary file that is removed when the JVM exits.
     */
    public static Resolved resolve(Path dataDir) throws IOException {
        if (dataDir == null) {
            Path file = Files.createTempFile("ckptvault-" + NAME + "-", "", ownerOnly());
            file.toFile().deleteOnExit();
            String key = newKey();
            Files.writeString(file, key + "\n", StandardCharsets.UTF_8);
            return new Resolved(key, file, true);
        }
        Files.createDirectories(dataDir);
        Path file = dataDir.resolve(NAME);
        String key = newKey();
        try {
            Files.createFile(file, ownerOnly());
            Files.writeString(file, key + "\n", StandardCharsets.UTF_8);
            return new Resolved(key, file, true);
        } catch (FileAlreadyExistsException e) {
            restrict(file);
            String existing = Files.readString(file, StandardCharsets.UTF_8).strip();
            if (existing.length() < 16) {
                throw new IOException(file + " holds no usable admin key (16 characters or more); remove it to make a new one");
            }
            return new Resolved(existing, file, false);
        }
    }

    private static String newKey() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        // Hex, not base64url: a key that may begin with '-' reads as an option on a command line.
        return java.util.HexFormat.of().formatHex(b);
    }

    private static FileAttribute<?>[] ownerOnly() {
        return posix() ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(OWNER_ONLY)} : new FileAttribute<?>[0];
    }

    /** A key file someone else may read is no longer the owner's secret: it is narrowed again. */
    private static void restrict(Path file) throws IOException {
        if (posix() && !Files.getPosixFilePermissions(file).equals(OWNER_ONLY)) {
            Files.setPosixFilePermissions(file, OWNER_ONLY);
        }
    }

    private static boolean posix() {
        return java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
    }
}
