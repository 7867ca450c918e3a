package dev.ckptvault.local;

import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;
import java.util.Optional;

/**
 * Function keys as Azure's host checks them: FUNCTION routes take the function key or the admin
 * (master) key, ADMIN routes and the host's webhooks only the admin key, ANONYMOUS routes nothing
 * (token routes check their token in the app). There is always an admin key, as in Azure; a
 * function key only when one was given.
 */
public record KeyPolicy(Optional<String> functionKey, String adminKey) {
    public KeyPolicy {
        Objects.requireNonNull(functionKey, "functionKey");
        functionKey = functionKey.filter(k -> !k.isBlank());
        if (adminKey == null || adminKey.isBlank()) {
            throw new IllegalArgumentException("the local host always has an admin key");
        }
    }

    /** @param presented the x-functions-key header or the code query parameter, or null */
    public boolean allows(AuthorizationLevel level, String presented) {
        if (level == AuthorizationLevel.ANONYMOUS) {
            return true;
        }
        if (presented == null) {
            return false;
        }
        if (level == AuthorizationLevel.FUNCTION && functionKey.isPresent() && matches(functionKey.get(), presented)) {
            return true;
        }
        return matches(adminKey, presented);
    }

    private static boolean matches(String key, String presented) {
        // Constant-time: a key compared byte by byte with early exit leaks its prefix by timing.
        return MessageDigest.isEqual(key.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "KeyPolicy[functionKey=" + (functionKey.isPresent() ? "<set>" : "none") + ", adminKey=<set>]";
    }
}
