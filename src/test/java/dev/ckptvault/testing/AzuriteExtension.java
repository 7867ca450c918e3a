package dev.ckptvault.testing;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.wiring.AppContext;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import dev.ckptvault.events.OutgoingEventPublisher;

/**
 * A fresh in-memory Azurite per test class, on ports the OS picks, unless CKPT_TEST_STORAGE names
 * an endpoint to use instead. A fresh instance per class keeps each class's data small: Azurite
 * slows down as it fills.
 */
public final class AzuriteExtension implements BeforeAllCallback, AfterAllCallback {
    private AzuriteProcess process;
    private String connectionString;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        String given = System.getenv("CKPT_TEST_STORAGE");
        if (given != null && !given.isBlank()) {
            connectionString = given;
            return;
        }
        process = AzuriteProcess.start(projectDir(), null, 0, 0);
        connectionString = process.connectionString();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (process != null) {
            process.close();
        }
    }

    public static Path projectDir() {
        return Path.of(System.getProperty("ckptvault.projectDir", System.getProperty("user.dir")));
    }

    public String connectionString() {
        return connectionString;
    }

    /** Settings for the app against this Azurite; {@code overrides} win. */
    public Map<String, String> settings(Map<String, String> overrides) {
        return settings(connectionString, overrides);
    }

    /** Settings for the app against the storage behind {@code connectionString}; {@code overrides} win. */
    public static Map<String, String> settings(String connectionString, Map<String, String> overrides) {
        Map<String, String> env = new HashMap<>();
        env.put("CKPT_STORAGE", connectionString);
        env.put("CKPT_SWEEP_SCHEDULE", "0 */5 * * * *");
        env.putAll(overrides);
        return env;
    }

    /** One app instance's units against this Azurite, with the container and index table created. */
    public TestApp app(Map<String, String> overrides, Clock clock) {
        return app(connectionString, overrides, clock, OutgoingEventPublisher.DISABLED);
    }

    public TestApp app() {
        return app(Map.of(), Clock.systemUTC());
    }

    /** As {@link #app(Map, Clock)}, for an Azurite started elsewhere (e.g. by a benchmark), publishing with {@code publisher}. */
    public static TestApp app(String connectionString, Map<String, String> overrides, Clock clock,
                              OutgoingEventPublisher publisher) {
        TestApp app = new TestApp(CkptConfig.fromMap(settings(connectionString, overrides)), clock, publisher);
        app.storage.container().createIfNotExists();
        app.storage.keysContainer().createIfNotExists();
        app.storage.tableService().createTableIfNotExists(app.config.indexTable());
        return app;
    }

    /** The composition root the worker uses, against this Azurite (container and table created). */
    public AppContext root(Map<String, String> overrides) {
        app(overrides, Clock.systemUTC()).close();
        return new AppContext(CkptConfig.fromMap(settings(overrides)), Clock.systemUTC());
    }
}
