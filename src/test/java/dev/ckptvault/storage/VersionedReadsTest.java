package dev.ckptvault.storage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.checkpoint.Checkpoint;
import dev.ckptvault.checkpoint.CheckpointState;
import dev.ckptvault.config.StorageSettings;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.json.Json;
import dev.ckptvault.layout.CheckpointId;
import dev.ckptvault.layout.RelativePath;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.FakeBlobService;
import dev.ckptvault.testing.Http;
import dev.ckptvault.testing.TestApp;
import dev.ckptvault.upload.UploadAnswer;
import dev.ckptvault.upload.UploadRequest;
import java.net.URLDecoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * In Azure the account keeps blob versions: the commit record names each file's version and read
 * URLs address that version, so a write-URL holder who breaks the lease and overwrites changes
 * nothing a reader of the COMMITTED checkpoint receives. Azurite has no versions, so blobs are
 * served by {@link FakeBlobService} (the REST reference's wire format, versioning on, SAS reads
 * checked); the index is in Azurite. Everything else is the app's own code and the real SDK.
 */
class VersionedReadsTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static FakeBlobService blobs;
    static TestApp app;

    @BeforeAll
    static void setUp() throws Exception {
        blobs = new FakeBlobService(StorageSettings.EMULATOR_ACCOUNT, StorageSettings.EMULATOR_KEY);
        String tables = null;
        for (String part : AZURITE.connectionString().split(";")) {
            if (part.startsWith("TableEndpoint=")) {
                tables = part.substring("TableEndpoint=".length());
            }
        }
        String cs = "DefaultEndpointsProtocol=http;AccountName=" + StorageSettings.EMULATOR_ACCOUNT + ";AccountKey="
                + StorageSettings.EMULATOR_KEY + ";BlobEndpoint=" + blobs.endpoint() + ";TableEndpoint=" + tables + ";";
        app = AzuriteExtension.app(cs, Map.of(), Clock.systemUTC(), OutgoingEventPublisher.DISABLED);
    }

    @AfterAll
    static void tearDown() {
        if (app != null) {
            app.close();
        }
        if (blobs != null) {
            blobs.close();
        }
    }

    static Map<String, String> query(String url) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String p : url.substring(url.indexOf('?') + 1).split("&")) {
            int eq = p.indexOf('=');
            out.put(p.substring(0, eq), URLDecoder.decode(p.substring(eq + 1), StandardCharsets.UTF_8));
        }
        return out;
    }

    @Test
    void theCommitRecordNamesEachFilesVersionAndReadUrlsServeItWhateverAWriteUrlDoesLater() throws Exception {
        CheckpointId id = CheckpointId.of("versioned", 100);
        List<String> paths = List.of("rank-0/model.bin", "rank-1/model.bin");
        UploadAnswer answer = app.uploads.issue(id, new UploadRequest(paths.stream()
                .map(p -> new UploadRequest.FileRequest(new RelativePath(p), Optional.empty())).toList(), Optional.empty()));
        Map<String, String> versions = new LinkedHashMap<>();
        StringBuilder manifest = new StringBuilder("{\"step\":100,\"files\":[");
        for (int i = 0; i < paths.size(); i++) {
            String path = paths.get(i);
            byte[] data = ("weights of " + path).getBytes(StandardCharsets.UTF_8);
            HttpResponse<String> put = Http.putBlob(answer.uploads().get(i).url(), data);
            assertEquals(201, put.statusCode(), put.body());
            versions.put(path, put.headers().firstValue("x-ms-version-id").orElseThrow());
            manifest.append(i == 0 ? "" : ",").append("{\"path\":\"").append(path).append("\",\"size\":")
                    .append(data.length).append(",\"etag\":").append(Json.write(put.headers().firstValue("ETag")
                            .orElseThrow())).append('}');
        }
        manifest.append("]}");
        Checkpoint c = app.commits.commit(id, Json.parse(manifest.toString(), "manifest"));
        assertEquals(CheckpointState.COMMITTED, c.state());

        // The app learned the current versions from one listing with include=versions.
        assertTrue(blobs.requests().stream().anyMatch(r -> "list".equals(r.query().get("comp"))
                && r.query().getOrDefault("include", "").contains("versions")
                && r.query().getOrDefault("prefix", "").equals(id.prefix())), "no versioned listing of the step");
        assertTrue(blobs.requests().stream().anyMatch(r -> r.method().equals("PUT") && r.path().endsWith("/_commit.json")
                && "*".equals(r.headers().get("If-None-Match"))), "the commit record is written create-once");
        JsonNode record = Json.parse(new String(blobs.current("checkpoints", id.commitBlob()).data(),
                StandardCharsets.UTF_8), "record");
        for (JsonNode f : record.get("files")) {
            assertEquals(versions.get(f.get("path").asText()), f.path("versionId").asText(null),
                    "the commit record names the version of " + f.get("path").asText());
        }

        Checkpoint latest = app.queries.latest(new RunId("versioned"));
        List<String> urls = new ArrayList<>();
        for (var f : latest.files()) {
            Map<String, String> q = query(f.url());
            assertEquals(versions.get(f.path()), q.get("versionid"), f.url());
            assertEquals("bv", q.get("sr"), "a version SAS");
            assertEquals("r", q.get("sp"));
            urls.add(f.url());
        }

        // A write-URL holder breaks the commit lease and overwrites rank 0's file.
        String writeUrl = answer.uploads().get(0).url();
        assertEquals(202, Http.lease(writeUrl, "break", null).statusCode());
        assertEquals(201, Http.putBlob(writeUrl, "evil".getBytes(StandardCharsets.UTF_8)).statusCode());
        assertNotEquals(versions.get(paths.get(0)), blobs.current("checkpoints", id.prefix() + paths.get(0)).versionId());

        for (int i = 0; i < paths.size(); i++) {
            HttpResponse<byte[]> r = Http.getBytes(urls.get(i));
            assertEquals(200, r.statusCode());
            assertArrayEquals(("weights of " + paths.get(i)).getBytes(StandardCharsets.UTF_8), r.body(),
                    "a reader of the committed checkpoint gets the committed bytes");
        }
        // The signature covers the version: pointing the URL at the new version, or at the base blob, is refused.
        String newVersion = blobs.current("checkpoints", id.prefix() + paths.get(0)).versionId();
        String other = urls.get(0).replace("versionid=" + java.net.URLEncoder.encode(versions.get(paths.get(0)),
                StandardCharsets.UTF_8), "versionid=" + java.net.URLEncoder.encode(newVersion, StandardCharsets.UTF_8));
        assertNotEquals(urls.get(0), other);
        assertEquals(403, Http.getBytes(other).statusCode());
        String base = urls.get(0).replaceAll("versionid=[^&]*&?", "").replace("sr=bv", "sr=b");
        assertEquals(403, Http.getBytes(base).statusCode());
    }
}
