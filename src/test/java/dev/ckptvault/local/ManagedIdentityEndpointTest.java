package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The local token service speaks App Service's managed identity protocol (api-version
 * 2019-08-01, IDENTITY_ENDPOINT + X-IDENTITY-HEADER) and, like a site with only a user-assigned
 * identity, refuses requests that name no identity or another one.
 */
class ManagedIdentityEndpointTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    static TokenIssuer issuer;
    static ManagedIdentityEndpoint msi;
    static final List<String> logged = new CopyOnWriteArrayList<>();
    static final Handler CAPTURE = new Handler() {
        @Override
        public void publish(LogRecord r) {
            logged.add(r.getMessage());
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeAll
    static void start() throws Exception {
        Logger.getLogger(ManagedIdentityEndpoint.class.getName()).addHandler(CAPTURE);
        issuer = new TokenIssuer(Clock.systemUTC());
        msi = new ManagedIdentityEndpoint(LocalIdentity.APP, issuer);
    }

    @AfterAll
    static void stop() {
        msi.close();
        Logger.getLogger(ManagedIdentityEndpoint.class.getName()).removeHandler(CAPTURE);
    }

    static HttpResponse<String> get(String query, String header) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(msi.endpoint() + "?" + query));
        if (header != null) {
            b.header(ManagedIdentityEndpoint.HEADER, header);
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String q(String resource, String idParam, String id) {
        return "api-version=2019-08-01&resource=" + URLEncoder.encode(resource, StandardCharsets.UTF_8)
                + (idParam == null ? "" : "&" + idParam + "=" + URLEncoder.encode(id, StandardCharsets.UTF_8));
    }

    static JsonNode claims(String jwt) {
        return Json.parse(new String(Base64.getUrlDecoder().decode(jwt.split("\\.")[1]), StandardCharsets.UTF_8), "c");
    }

    static List<String> names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void theNamedUserAssignedIdentityGetsAJwtForExactlyTheResourceAskedFor() throws Exception {
        HttpResponse<String> r = get(q("https://storage.azure.com", "client_id", LocalIdentity.APP.clientId()),
                msi.identityHeader());
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = Json.parse(r.body(), "b");
        assertEquals(List.of("access_token", "expires_on", "resource", "token_type", "client_id"), names(body));
        assertEquals("https://storage.azure.com", body.get("resource").asText());
        assertEquals("Bearer", body.get("token_type").asText());
        assertEquals(LocalIdentity.APP.clientId(), body.get("client_id").asText());
        assertTrue(body.get("expires_on").isTextual(), "epoch seconds as a string, as App Service sends them");

        JsonNode c = claims(body.get("access_token").asText());
        assertEquals("https://storage.azure.com", c.get("aud").asText());
        assertEquals("https://sts.windows.net/" + LocalIdentity.APP.tenantId() + "/", c.get("iss").asText());
        assertEquals(LocalIdentity.APP.principalId(), c.get("oid").asText());
        assertEquals(LocalIdentity.APP.clientId(), c.get("appid").asText());
        assertEquals(LocalIdentity.APP.tenantId(), c.get("tid").asText());
        assertEquals(Long.parseLong(body.get("expires_on").asText()), c.get("exp").asLong());
        long now = Instant.now().getEpochSecond();
        assertTrue(c.get("nbf").asLong() <= now && c.get("exp").asLong() > now, c.toString());
        assertTrue(issuer.verify(body.get("access_token").asText()).isPresent(), "signed by this start's issuer");
    }

    @Test
    void theIdentityMayAlsoBeNamedByPrincipalIdObjectIdOrResourceId() throws Exception {
        for (String[] p : new String[][] {{"principal_id", LocalIdentity.APP.principalId()},
                {"object_id", LocalIdentity.APP.principalId()}, {"mi_res_id", LocalIdentity.APP.resourceId()}}) {
            HttpResponse<String> r = get(q("https://eventgrid.azure.net", p[0], p[1]), msi.identityHeader());
            assertEquals(200, r.statusCode(), p[0] + ": " + r.body());
            assertEquals(LocalIdentity.APP.principalId(), claims(Json.parse(r.body(), "b").get("access_token").asText())
                    .get("oid").asText());
        }
    }

    private static void assertNoIdentityAnswer(HttpResponse<String> r) {
        assertEquals(400, r.statusCode(), r.body());
        JsonNode body = Json.parse(r.body(), "b");
        assertEquals(400, body.get("statusCode").asInt());
        assertEquals("Unable to load the proper Managed Identity.", body.get("message").asText());
        assertTrue(body.hasNonNull("correlationId"));
        assertFalse(r.body().contains("access_token"));
    }

    @Test
    void noIdentityNamedMeansTheSystemAssignedOneWhichThisSiteDoesNotHave() throws Exception {
        assertNoIdentityAnswer(get(q("https://eventgrid.azure.net", null, null), msi.identityHeader()));
    }

    @Test
    void anotherClientIdIsRefusedLikeAnIdentityNotAssignedToTheSite() throws Exception {
        assertNoIdentityAnswer(get(q("https://storage.azure.com", "client_id", "11111111-2222-3333-4444-555555555555"),
                msi.identityHeader()));
        assertNoIdentityAnswer(get(q("https://storage.azure.com", "principal_id", LocalIdentity.APP.clientId()),
                msi.identityHeader()));
    }

    @Test
    void aMissingOrWrongIdentityHeaderGetsNoTokenAndTheHeaderIsNeverLogged() throws Exception {
        logged.clear();
        String query = q("https://storage.azure.com", "client_id", LocalIdentity.APP.clientId());
        HttpResponse<String> none = get(query, null);
        assertEquals(401, none.statusCode(), none.body());
        HttpResponse<String> wrong = get(query, msi.identityHeader() + "x");
        assertEquals(401, wrong.statusCode(), wrong.body());
        assertFalse(wrong.body().contains("access_token"));
        assertEquals(200, get(query, msi.identityHeader()).statusCode());
        String all = String.join("\n", logged);
        assertFalse(all.contains(msi.identityHeader()), "the log never holds IDENTITY_HEADER");
        assertFalse(all.contains("eyJ"), "the log never holds a token");
    }

    @Test
    void otherApiVersionsMethodsAndTwoIdsAreRefused() throws Exception {
        HttpResponse<String> old = get("api-version=2017-09-01&resource=https%3A%2F%2Fstorage.azure.com&clientid="
                + LocalIdentity.APP.clientId(), msi.identityHeader());
        assertEquals(400, old.statusCode(), old.body());
        HttpResponse<String> two = get(q("https://storage.azure.com", "client_id", LocalIdentity.APP.clientId())
                + "&principal_id=" + LocalIdentity.APP.principalId(), msi.identityHeader());
        assertEquals(400, two.statusCode(), two.body());
        HttpResponse<String> noResource = get("api-version=2019-08-01&client_id=" + LocalIdentity.APP.clientId(),
                msi.identityHeader());
        assertEquals(400, noResource.statusCode(), noResource.body());
        HttpResponse<String> post = HTTP.send(HttpRequest.newBuilder(URI.create(msi.endpoint() + "?"
                        + q("https://storage.azure.com", "client_id", LocalIdentity.APP.clientId())))
                .header(ManagedIdentityEndpoint.HEADER, msi.identityHeader())
                .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(405, post.statusCode());
    }
}
