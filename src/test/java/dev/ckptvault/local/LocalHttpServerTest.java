package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.net.http.HttpResponse;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class LocalHttpServerTest {
    static LocalServers open;
    static LocalServers keyed;

    @BeforeAll
    static void start() throws Exception {
        open = new LocalServers(KeyPolicy.NONE, new TestFunctions.Checkpoints(), new TestFunctions.BlobEvents());
        keyed = new LocalServers(new KeyPolicy(Optional.of("fkey"), Optional.of("akey")),
                new TestFunctions.Checkpoints(), new TestFunctions.BlobEvents());
    }

    @AfterAll
    static void stop() {
        open.close();
        keyed.close();
    }

    private static JsonNode json(HttpResponse<String> r) {
        return Json.parse(r.body(), "response");
    }

    @Test
    void routeValuesQueryValuesAndTheBodyReachTheFunctionOverHttp() throws Exception {
        HttpResponse<String> r = open.send("GET", "/api/runs/llama%2D7b/checkpoints/1200?downloads=true", null);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode bound = json(r).get("bound");
        assertEquals("llama-7b", bound.get("runId").asText());
        assertEquals("1200", bound.get("step").asText());
        assertEquals("true", bound.get("downloads").asText());
        assertEquals("GetCheckpoint", bound.get("function").asText(), "ExecutionContext names the function");

        HttpResponse<String> latest = open.send("GET", "/api/runs/r1/checkpoints/latest", null);
        assertEquals("Latest", json(latest).get("function").asText());

        HttpResponse<String> commit = open.send("POST", "/api/runs/r1/checkpoints/5/commit", "{\"step\":5}",
                "Content-Type", "application/json");
        assertEquals("{\"step\":5}", json(commit).get("bound").get("body").asText());
        assertTrue(commit.headers().firstValue("content-type").orElse("").startsWith("application/json"));
    }

    @Test
    void unknownPathsAnswer404JsonAndWrongMethods405() throws Exception {
        HttpResponse<String> missing = open.send("GET", "/api/runs/r1/checkpoints/twelve", null);
        assertEquals(404, missing.statusCode());
        assertEquals("NotFound", json(missing).get("error").get("code").asText());
        assertEquals(404, open.send("GET", "/elsewhere", null).statusCode());

        HttpResponse<String> wrong = open.send("PUT", "/api/runs/r1/checkpoints/12", "{}");
        assertEquals(405, wrong.statusCode());
        assertTrue(wrong.headers().firstValue("allow").orElse("").contains("GET"));
    }

    @Test
    void withoutKeysNothingIsCheckedAsWithCoreTools() throws Exception {
        assertEquals(200, open.send("GET", "/api/runs/r/checkpoints/1", null).statusCode());
        assertEquals(200, open.send("DELETE", "/api/runs/r/checkpoints/1", null).statusCode());
    }

    @Test
    void functionRoutesNeedTheFunctionOrAdminKey() throws Exception {
        assertEquals(401, keyed.send("GET", "/api/runs/r/checkpoints/1", null).statusCode());
        assertEquals(401, keyed.send("GET", "/api/runs/r/checkpoints/1?code=wrong", null).statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1", null, "x-functions-key", "fkey").statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1?code=fkey", null).statusCode());
        assertEquals(200, keyed.send("GET", "/api/runs/r/checkpoints/1?code=akey", null).statusCode());
    }

    @Test
    void adminRoutesAndTheWebhookNeedTheAdminKeyAndAnonymousRoutesNone() throws Exception {
        HttpResponse<String> refused = keyed.send("DELETE", "/api/runs/r/checkpoints/1", null, "x-functions-key", "fkey");
        assertEquals(401, refused.statusCode());
        assertEquals("Unauthorized", json(refused).get("error").get("code").asText());
        assertEquals(200, keyed.send("DELETE", "/api/runs/r/checkpoints/1", null, "x-functions-key", "akey").statusCode());
        assertEquals(200, keyed.send("GET", "/api/ping", null).statusCode());

        String hook = EventGridWebhook.PATH + "?functionName=BlobEvents";
        assertEquals(401, keyed.send("OPTIONS", hook + "&code=fkey", null).statusCode());
        assertEquals(200, keyed.send("OPTIONS", hook + "&code=akey", null).statusCode());
    }
}
