package dev.ckptvault.local;

import dev.ckptvault.json.Json;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs timer functions on their NCRONTAB schedules in UTC (the Functions default), one run of a
 * function at a time; a run that overlaps the next occurrence skips it, as the host's singleton
 * timer does. Each run gets the host's timer info JSON.
 */
public final class TimerScheduler implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(TimerScheduler.class.getName());
    /** A run starting later than this after its due time reports IsPastDue, as the host does. */
    private static final Duration PAST_DUE = Duration.ofSeconds(5);

    private final FunctionHost host;
    private final Clock clock;
    private final ScheduledExecutorService pool;

    public TimerScheduler(FunctionHost host, Clock clock) {
        this.host = host;
        this.clock = clock;
        this.pool = Executors.newScheduledThreadPool(1, r -> {
            Thread t = new Thread(r, "timers");
            t.setDaemon(true);
            return t;
        });
    }

    public void start() {
        for (FunctionHost.TimerFunction f : host.timerFunctions()) {
            LOG.info("timer " + f.name() + " runs on '" + f.schedule() + "' (UTC)");
            if (f.runOnStartup()) {
                pool.execute(() -> run(f, now(), now()));
            }
            scheduleNext(f, now());
        }
    }

    private ZonedDateTime now() {
        return ZonedDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
    }

    private void scheduleNext(FunctionHost.TimerFunction f, ZonedDateTime after) {
        ZonedDateTime due = f.schedule().next(after);
        long delay = Math.max(0, Duration.between(clock.instant(), due.toInstant()).toMillis());
        pool.schedule(() -> {
            ZonedDateTime next = f.schedule().next(due);
            run(f, due, next);
            // Schedule from the later of the due time and now: a long run skips missed occurrences.
            ZonedDateTime n = now();
            scheduleNext(f, n.isAfter(due) ? n : due);
        }, delay, TimeUnit.MILLISECONDS);
    }

    private void run(FunctionHost.TimerFunction f, ZonedDateTime due, ZonedDateTime next) {
        boolean pastDue = Duration.between(due.toInstant(), clock.instant()).compareTo(PAST_DUE) > 0;
        try {
            host.invokeTimer(f, timerInfo(due, next, pastDue));
        } catch (Exception e) {
            LOG.log(Level.WARNING, "timer function " + f.name() + " failed", e);
        }
    }

    /** The shape the Java worker passes for a String timer parameter. */
    static String timerInfo(ZonedDateTime last, ZonedDateTime next, boolean pastDue) {
        Map<String, Object> schedule = new LinkedHashMap<>();
        schedule.put("AdjustForDST", true);
        Map<String, Object> status = new LinkedHashMap<>();
        status.put("Last", last.toInstant().toString());
        status.put("Next", next.toInstant().toString());
        status.put("LastUpdated", last.toInstant().toString());
        Map<String, Object> info = new LinkedHashMap<>();
        info.put("Schedule", schedule);
        info.put("ScheduleStatus", status);
        info.put("IsPastDue", pastDue);
        return Json.write(info);
    }

    @Override
    public void close() {
        pool.shutdownNow();
        try {
            pool.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
