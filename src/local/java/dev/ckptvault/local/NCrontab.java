package dev.ckptvault.local;

import com.cronutils.model.Cron;
import com.cronutils.model.definition.CronDefinition;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;

/**
 * A timer schedule in the Functions host's NCRONTAB form, six fields: second minute hour day
 * month day-of-week (0-6, Sunday = 0; names allowed). Parsing and the next time come from
 * cron-utils with a definition restricted to what NCRONTAB accepts (no '?', 'L', 'W' or '#'),
 * so a schedule the local host runs is one Azure runs too. Day and day-of-week both have to
 * match, as in NCRONTAB.
 */
public final class NCrontab {
    private static final String[] FIELDS = {"second", "minute", "hour", "day", "month", "day-of-week"};
    private static final CronDefinition DEFINITION = CronDefinitionBuilder.defineCron()
            .withSeconds().and()
            .withMinutes().and()
            .withHours().and()
            .withDayOfMonth().and()
            .withMonth().and()
            .withDayOfWeek().withValidRange(0, 6).withMondayDoWValue(1).and()
            .matchDayOfWeekAndDayOfMonth()
            .instance();
    private static final CronParser PARSER = new CronParser(DEFINITION);
    /** How far ahead {@link #next} looks before it calls a schedule one that never matches. */
    private static final int HORIZON_YEARS = 5;

    private final String expression;
    private final ExecutionTime times;

    private NCrontab(String expression, Cron cron) {
        this.expression = expression;
        this.times = ExecutionTime.forCron(cron);
    }

    /** @throws IllegalArgumentException naming the field and what is wrong with it */
    public static NCrontab parse(String expression) {
        String[] parts = expression.trim().split("\\s+");
        if (parts.length != FIELDS.length) {
            throw new IllegalArgumentException("'" + expression + "' has " + parts.length
                    + " fields; NCRONTAB needs six: second minute hour day month day-of-week");
        }
        for (int i = 0; i < parts.length; i++) {
            if (descendingRange(parts[i])) {
                // cron-utils reads 5-1 as a range that wraps; NCRONTAB refuses it.
                throw new IllegalArgumentException("'" + expression + "': the " + FIELDS[i] + " field '" + parts[i]
                        + "' has a range whose end is before its start");
            }
        }
        try {
            return new NCrontab(expression, PARSER.parse(String.join(" ", parts)).validate());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + expression + "': " + badField(parts) + e.getMessage(), e);
        }
    }

    private static boolean descendingRange(String field) {
        for (String item : field.split(",")) {
            String range = item.split("/")[0];
            String[] ends = range.split("-");
            if (ends.length == 2 && ends[0].matches("\\d+") && ends[1].matches("\\d+")
                    && Integer.parseInt(ends[0]) > Integer.parseInt(ends[1])) {
                return true;
            }
        }
        return false;
    }

    /** cron-utils names the problem but not the field: find the field that fails on its own. */
    private static String badField(String[] parts) {
        for (int i = 0; i < parts.length; i++) {
            String[] alone = {"*", "*", "*", "*", "*", "*"};
            alone[i] = parts[i];
            try {
                PARSER.parse(String.join(" ", alone)).validate();
            } catch (IllegalArgumentException e) {
                return "the " + FIELDS[i] + " field '" + parts[i] + "' is invalid: ";
            }
        }
        return "";
    }

    /**
     * The first time strictly after {@code after} (whole seconds, in {@code after}'s zone) that
     * matches, or throws when none exists within five years (e.g. 31 February).
     */
    public ZonedDateTime next(ZonedDateTime after) {
        ZonedDateTime next = times.nextExecution(after.truncatedTo(ChronoUnit.SECONDS)).orElse(null);
        if (next == null || next.isAfter(after.plusYears(HORIZON_YEARS))) {
            throw new IllegalStateException("'" + expression + "' matches no time in the " + HORIZON_YEARS
                    + " years after " + after);
        }
        return next;
    }

    public String expression() {
        return expression;
    }

    @Override
    public String toString() {
        return expression;
    }
}
