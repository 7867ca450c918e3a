package dev.ckptvault.health;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ckptvault.config.CkptConfig;
import dev.ckptvault.index.IndexStore;
import dev.ckptvault.storage.ContainerStore;
import dev.ckptvault.storage.StorageClients;
import dev.ckptvault.testing.AzuriteExtension;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What /health reports about storage, the index and events, against Azurite. */
class HealthServiceTest {
    @RegisterExtension
    static final AzuriteExtension AZURITE = new AzuriteExtension();

    static StorageClients provisioned;

    @BeforeAll
    static void provision() {
        // AzuriteExtension.app creates the default container and index table.
        AZURITE.app().close();
        provisioned = clients(Map.of());
    }

    static StorageClients clients(Map<String, String> overrides) {
        return new StorageClients(CkptConfig.fromMap(AZURITE.settings(overrides)));
    }

    static HealthService health(StorageClients clients, Optional<Instant> lastEvent) {
        IndexStore index = new IndexStore(clients.indexTable());
        return new HealthService(new ContainerStore(clients.container()), index::probe, () -> lastEvent);
    }

    @Test
    void reachableStorageAndIndexAreHealthy() {
        HealthService.Report r = health(provisioned, Optional.empty()).check();
        assertTrue(r.healthy(), r.details().toString());
        assertEquals("ok", r.details().get("storage"));
        assertEquals("ok", r.details().get("index"));
        assertEquals("ok", r.details().get("status"));
    }

    @Test
    void aMissingContainerIsNamedWithWhatToDo() {
        HealthService.Report r = health(clients(Map.of("CKPT_CONTAINER", "never-created")), Optional.empty()).check();
        assertFalse(r.healthy());
        assertEquals("container missing (run bootstrap)", r.details().get("storage"));
        assertEquals("ok", r.details().get("index"), "the index is fine");
        assertEquals("unavailable", r.details().get("status"));
    }

    @Test
    void aMissingTableIsNamedWithWhatToDo() {
        HealthService.Report r = health(clients(Map.of("CKPT_INDEX_TABLE", "nevercreated")), Optional.empty()).check();
        assertFalse(r.healthy());
        assertEquals("table missing (run bootstrap)", r.details().get("index"));
        assertEquals("ok", r.details().get("storage"), "the container is fine");
        assertEquals("unavailable", r.details().get("status"));
    }

    @Test
    void bothMissingAreBothNamed() {
        HealthService.Report r = health(clients(Map.of("CKPT_CONTAINER", "never-created",
                "CKPT_INDEX_TABLE", "nevercreated")), Optional.empty()).check();
        assertFalse(r.healthy());
        assertEquals("container missing (run bootstrap)", r.details().get("storage"));
        assertEquals("table missing (run bootstrap)", r.details().get("index"));
    }

    @Test
    void lastEventAtIsWhatTheInstanceLastSawOrNull() {
        Instant seen = Instant.parse("2025-03-01T10:15:30Z");
        assertEquals("2025-03-01T10:15:30Z",
                health(provisioned, Optional.of(seen)).check().details().get("lastEventAt"));
        HealthService.Report none = health(provisioned, Optional.empty()).check();
        assertTrue(none.details().containsKey("lastEventAt"), "shown even before the first event");
        assertNull(none.details().get("lastEventAt"));
    }

    @Test
    void lastEventKeepsTheNewestTimeWhateverOrderHandlersReportIn() {
        LastEvent last = new LastEvent();
        assertEquals(Optional.empty(), last.at());
        last.seen(Instant.parse("2025-03-01T10:00:02Z"));
        last.seen(Instant.parse("2025-03-01T10:00:01Z"));
        assertEquals(Optional.of(Instant.parse("2025-03-01T10:00:02Z")), last.at());
        HealthService h = new HealthService(new ContainerStore(provisioned.container()),
                new IndexStore(provisioned.indexTable())::probe, last::at);
        assertEquals("2025-03-01T10:00:02Z", h.check().details().get("lastEventAt"));
    }
}
