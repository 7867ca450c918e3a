package dev.ckptvault.access;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ckptvault.json.Json;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The app's token-signing keys as stored in {@code signing-keys.json}: the current key signs,
 * every key whose {@code verifyUntil} has not passed verifies.
 *
 * <pre>{"version":1,"current":"KID","keys":[{"kid","secret"(base64url),"createdAt","retiredAt"?,"verifyUntil"?}]}</pre>
 */
public record KeyRing(String current, List<SigningKey> keys) {
    static final int VERSION = 1;

    public KeyRing {
        keys = List.copyOf(keys);
        Set<String> kids = new HashSet<>();
        SigningKey cur = null;
        for (SigningKey k : keys) {
            if (!kids.add(k.kid())) {
                throw new IllegalArgumentException("two signing keys have the kid " + k.kid());
            }
            if (k.kid().equals(current)) {
                cur = k;
            }
        }
        if (cur == null || cur.retiredAt().isPresent()) {
            throw new IllegalArgumentException("the current signing key must be in the ring and not retired");
        }
    }

    static KeyRing first(SigningKey key) {
        return new KeyRing(key.kid(), List.of(key));
    }

    public SigningKey currentKey() {
        return keys.stream().filter(k -> k.kid().equals(current)).findFirst().orElseThrow();
    }

    /** The key with this kid, if it still verifies at {@code now}. */
    public Optional<SigningKey> verifying(String kid, Instant now) {
        return keys.stream().filter(k -> k.kid().equals(kid) && k.verifiesAt(now)).findFirst();
    }

    /**
     * {@code fresh} signs from {@code now}; the key it replaces verifies for {@code retireAfter}
     * more (the longest token it can have signed); keys past their time are dropped.
     */
    KeyRing rotated(SigningKey fresh, Instant now, java.time.Duration retireAfter) {
        List<SigningKey> out = new ArrayList<>();
        out.add(fresh);
        for (SigningKey k : keys) {
            if (k.kid().equals(current)) {
                out.add(k.retired(now, now.plus(retireAfter)));
            } else if (k.verifiesAt(now)) {
                out.add(k);
            }
        }
        return new KeyRing(fresh.kid(), out);
    }

    byte[] toJson() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("version", VERSION);
        root.put("current", current);
        ArrayNode list = root.putArray("keys");
        for (SigningKey k : keys) {
            ObjectNode n = list.addObject();
            n.put("kid", k.kid());
            n.put("secret", Base64.getUrlEncoder().withoutPadding().encodeToString(k.secret()));
            n.put("createdAt", k.createdAt().toString());
            k.retiredAt().ifPresent(r -> n.put("retiredAt", r.toString()));
            k.verifyUntil().ifPresent(v -> n.put("verifyUntil", v.toString()));
        }
        return Json.bytes(root);
    }

    /**
     * Reads the stored ring. The blob is written only by this app; one that does not read is a
     * fault to fix, not a request to refuse, so this throws {@link IllegalStateException}.
     */
    static KeyRing fromJson(byte[] data) {
        try {
            JsonNode root = Json.MAPPER.readTree(data);
            if (root == null || root.path("version").asInt() != VERSION || !root.path("keys").isArray()) {
                throw new IllegalStateException("signing-keys.json is not a version " + VERSION + " key ring");
            }
            List<SigningKey> keys = new ArrayList<>();
            for (JsonNode n : root.get("keys")) {
                keys.add(new SigningKey(n.path("kid").asText(null),
                        Base64.getUrlDecoder().decode(n.path("secret").asText("")),
                        Instant.parse(n.path("createdAt").asText()),
                        optionalInstant(n, "retiredAt"), optionalInstant(n, "verifyUntil")));
            }
            return new KeyRing(root.path("current").asText(null), keys);
        } catch (IOException | IllegalArgumentException | DateTimeParseException e) {
            throw new IllegalStateException("signing-keys.json cannot be read: " + e.getClass().getSimpleName(), e);
        }
    }

    private static Optional<Instant> optionalInstant(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? Optional.empty() : Optional.of(Instant.parse(v.asText()));
    }

    @Override
    public String toString() {
        return "KeyRing[current=" + current + ", keys=" + keys + "]";
    }
}
