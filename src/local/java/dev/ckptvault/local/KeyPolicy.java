package dev.ckptvault.local;

import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;

/**
 * Function keys as Azure checks them, when the user gave keys: FUNCTION routes take the function
 * key or the admin (master) key, ADMIN routes and the host's webhooks only the admin key,
 * ANONYMOUS routes nothing. Without keys the local host behaves like Core Tools, which does not
 * check keys.
 */
public record KeyPolicy(Optional<String> functionKey, Optional<String> adminKey) {
    public static final KeyPolicy NONE = new KeyPolicy(Optional.empty(), Optional.empty());

    public KeyPolicy {
        functionKey = functionKey.filter(k -> !k.isBlank());
        adminKey = adminKey.filter(k -> !k.isBlank());
    }

    public boolean enforced() {
        return functionKey.isPresent() || adminKey.isPresent();
    }

    /** @param presented the x-functions-key header or the code query parameter, or null */
    public boolean allows(AuthorizationLevel level, String presented) {
        if (!enforced() || level == AuthorizationLevel.ANONYMOUS) {
            return true;
        }
        if (presented == null) {
            return false;
        }
        if (level == AuthorizationLevel.FUNCTION && matches(functionKey, presented)) {
            return true;
        }
        return matches(adminKey, presented);
    }

    private static boolean matches(Optional<String> key, String presented) {
        // Constant-time: a key compared byte by byte with early exit leaks its prefix by timing.
        return key.isPresent() && MessageDigest.isEqual(key.get().getBytes(StandardCharsets.UTF_8),
                presented.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "KeyPolicy[functionKey=" + (functionKey.isPresent() ? "<set>" : "none")
                + ", adminKey=" + (adminKey.isPresent() ? "<set>" : "none") + "]";
    }
}
