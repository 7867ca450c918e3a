package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ckptvault.json.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class TimerSchedulerTest {
    @Test
    void aTimerFunctionRunsOnItsScheduleWithTheHostsTimerInfo() throws Exception {
        TestFunctions.Sweep sweep = new TestFunctions.Sweep();
        FunctionHost host = TestFunctions.load(sweep); // %SCHED% = every second
        try (TimerScheduler timers = new TimerScheduler(host, Clock.systemUTC())) {
            timers.start();
            sweep.twice.await(30, java.util.concurrent.TimeUnit.SECONDS);
        }
        assertTrue(sweep.runs.size() >= 2, "ran " + sweep.runs.size() + " times");
        JsonNode info = Json.parse(sweep.runs.get(0), "timerInfo");
        assertTrue(info.get("Schedule").isObject());
        assertFalse(info.get("IsPastDue").asBoolean());
        Instant last = Instant.parse(info.get("ScheduleStatus").get("Last").asText());
        Instant next = Instant.parse(info.get("ScheduleStatus").get("Next").asText());
        assertEquals(Duration.ofSeconds(1), Duration.between(last, next));
    }
}
