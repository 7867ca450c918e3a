package dev.ckptvault.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import dev.ckptvault.functions.CommitCheckpointFunction;
import dev.ckptvault.functions.HealthFunction;
import dev.ckptvault.functions.IssueTokenFunction;
import dev.ckptvault.functions.RequestUploadsFunction;
import dev.ckptvault.json.Json;
import dev.ckptvault.local.LocalHttpRequest;
import dev.ckptvault.local.LocalHttpResponse;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.Http;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The composition root, built from settings against Azurite as the Java worker would get it. */
class AppContextTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static AppContext root;

    @BeforeAll
    static void build() {
        root = AZURITE.root(Map.of());
    }

    @AfterAll
    static void close() {
        root.close();
    }

    /** Every class of the deployed functions package with an {@code @FunctionName} method. */
    static Set<Class<?>> functionClassesOfTheApp() {
        Set<Class<?>> out = new HashSet<>();
        for (JavaClass c : new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("/test-classes/"))
                .importPackages("dev.ckptvault.functions")) {
            if (c.getMethods().stream().anyMatch(m -> m.isAnnotatedWith(FunctionName.class))) {
                out.add(c.reflect());
            }
        }
        return out;
    }

    @Test
    void everyFunctionClassHasAnInstance() {
        Set<Class<?>> scanned = functionClassesOfTheApp();
        assertTrue(scanned.size() >= 17, "the function classes were not found: " + scanned);
        assertEquals(names(scanned), names(root.functionClasses()));
        for (Class<?> type : scanned) {
            Object f = root.function(type);
            assertTrue(type.isInstance(f), type.getName());
            assertSame(f, root.function(type), "one instance per class");
        }
    }

    static Set<String> names(Set<Class<?>> classes) {
        return classes.stream().map(Class::getName).collect(Collectors.toCollection(java.util.TreeSet::new));
    }

    @Test
    void anUnknownClassIsRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> root.function(String.class));
        assertTrue(e.getMessage().contains("java.lang.String"), e.getMessage());
    }

    @Test
    void theWorkersInjectorAnswersFromTheInstalledRoot() {
        AppContext.install(root);
        assertSame(root.function(HealthFunction.class),
                new CkptFunctionInstanceInjector().getInstance(HealthFunction.class));
        assertSame(root, AppContext.instance());
    }

    // ---- close -----------------------------------------------------------------------------------

    static boolean isPoolThread(Thread t) {
        return t.getName().startsWith("ckptvault-io-") || t.getName().equals("ckptvault-after-commit");
    }

    static Set<Thread> poolThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(AppContextTest::isPoolThread)
                .collect(Collectors.toSet());
    }

    static JsonNode json(Object response, int status) {
        LocalHttpResponse r = (LocalHttpResponse) response;
        assertEquals(status, r.getStatusCode(), r.bodyText());
        return Json.parse(r.bodyText(), "response");
    }

    /** Commits one file through the root's functions: leasing runs on its I/O pool, retention after it. */
    static void commitOneFile(AppContext ctx, String run) throws Exception {
        // As a job launcher: a write token from the admin route (the host checked the admin key).
        String token = json(ctx.function(IssueTokenFunction.class).run(LocalHttpRequest.of(HttpMethod.POST,
                "/api/manage/runs/" + run + "/tokens", Map.of(), "{\"scope\":\"write\"}"), run), 200)
                .get("token").asText();
        Map<String, String> bearer = Map.of("Authorization", "Bearer " + token);
        JsonNode uploads = json(ctx.function(RequestUploadsFunction.class).run(LocalHttpRequest.of(HttpMethod.POST,
                "/api/runs/" + run + "/checkpoints/1/uploads", Map.of(), "{\"files\":[{\"path\":\"a.bin\"}]}", bearer),
                run, "1"), 200);
        byte[] data = "weights".getBytes(StandardCharsets.UTF_8);
        HttpResponse<String> put = Http.putBlob(uploads.get("uploads").get(0).get("url").asText(), data);
        assertEquals(201, put.statusCode(), put.body());
        String manifest = "{\"step\":1,\"files\":[{\"path\":\"a.bin\",\"size\":" + data.length + ",\"etag\":"
                + Json.write(put.headers().firstValue("ETag").orElseThrow()) + "}]}";
        JsonNode committed = json(ctx.function(CommitCheckpointFunction.class).run(LocalHttpRequest.of(
                HttpMethod.POST, "/api/runs/" + run + "/checkpoints/1/commit", Map.of(), manifest, bearer), run, "1"), 200);
        assertEquals("COMMITTED", committed.get("state").asText());
    }

    @Test
    void closeStopsTheThreadPoolsItStarted() throws Exception {
        Set<Thread> before = poolThreads();
        AppContext ctx = AZURITE.root(Map.of());
        commitOneFile(ctx, "close-run");
        Set<Thread> started = new HashSet<>(poolThreads());
        started.removeAll(before);
        assertFalse(started.stream().noneMatch(t -> t.getName().startsWith("ckptvault-io-")),
                "the commit ran on the root's I/O pool: " + started);

        ctx.close();

        Instant deadline = Instant.now().plus(Duration.ofSeconds(10));
        for (Thread t : started) {
            t.join(Math.max(1, Duration.between(Instant.now(), deadline).toMillis()));
        }
        List<String> alive = started.stream().filter(Thread::isAlive).map(Thread::getName).sorted().toList();
        assertEquals(List.of(), alive, "still running after close()");
    }
}
