package dev.ckptvault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.error.ErrorCodes;
import dev.ckptvault.testing.ApiContract;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** docs/openapi.yaml is whole: its references resolve, and it lists every error code the app answers with. */
class OpenApiTest {
    /** Codes given outside ErrorCodes: bootstrap's Azure refusals, the 500 incident, the local host's own answers. */
    static final Set<String> OTHER_CODES = Set.of("InternalError", "AuthenticationFailed", "AuthorizationFailed",
            "BootstrapNotConfigured", "NoTopicIdentity", "BadRequest", "MethodNotAllowed", "Unauthorized");

    @Test
    void everyReferenceResolves() {
        Map<String, Boolean> refs = ApiContract.get().refs();
        assertTrue(refs.size() > 30, "too few distinct $refs found: " + refs.size());
        refs.forEach((ref, resolves) -> assertTrue(resolves, ref + " does not resolve"));
    }

    @Test
    void theErrorCodeListIsEveryCodeTheAppAnswersWith() throws IllegalAccessException {
        Set<String> app = new TreeSet<>(OTHER_CODES);
        for (Field f : ErrorCodes.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
                app.add((String) f.get(null));
            }
        }
        Set<String> described = new TreeSet<>();
        ApiContract.get().spec().at("/components/schemas/ErrorCode/enum").forEach(c -> described.add(c.asText()));
        assertEquals(app, described);
    }

    @Test
    void anErrorAnswerOfTheAppValidatesAndOneWithAnUnknownCodeDoesNot() {
        ApiContract contract = ApiContract.get();
        contract.check("POST", "/runs/{runId}/checkpoints/{step}/commit", 400, "{\"error\":{\"code\":\"InvalidManifest\","
                + "\"message\":\"files[0].etag is required\",\"target\":\"files[0].etag\"}}");
        AssertionError e = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, () -> contract.check("POST",
                "/runs/{runId}/checkpoints/{step}/commit", 400, "{\"error\":{\"code\":\"Oops\",\"message\":\"x\"}}"));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        JsonNode latest = contract.spec().at("/paths/~1runs~1{runId}~1checkpoints~1latest/get/responses/404");
        assertTrue(!latest.isMissingNode(), "latest describes its 404");
    }
}
