package dev.ckptvault.local;

import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;
import java.util.List;
import java.util.Locale;

/**
 * A six-field NCRONTAB expression as the Functions timer trigger reads it:
 * {@code second minute hour day month day-of-week}. Each field is {@code *}, a number, a range
 * {@code a-b}, any of those with a step {@code /n}, or a comma list of them; months and days of
 * the week also by their three-letter English names (day of week 0-6, Sunday = 0).
 *
 * <p>Like NCrontab (which the Functions host uses), a time must match the day-of-month
 * <em>and</em> the day-of-week field; classic cron ORs them when both are restricted.
 */
public final class NCrontab {
    private static final List<String> MONTHS =
            List.of("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC");
    private static final List<String> DAYS = List.of("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT");

    private final String expression;
    private final BitSet seconds;
    private final BitSet minutes;
    private final BitSet hours;
    private final BitSet days;
    private final BitSet months;
    private final BitSet daysOfWeek;

    private NCrontab(String expression, BitSet[] fields) {
        this.expression = expression;
        this.seconds = fields[0];
        this.minutes = fields[1];
        this.hours = fields[2];
        this.days = fields[3];
        this.months = fields[4];
        this.daysOfWeek = fields[5];
    }

    /** @throws IllegalArgumentException naming the field and what is wrong with it */
    public static NCrontab parse(String expression) {
        String[] parts = expression.trim().split("\\s+");
        if (parts.length != 6) {
            throw new IllegalArgumentException("'" + expression + "' has " + parts.length
                    + " fields; NCRONTAB needs six: second minute hour day month day-of-week");
        }
        String[] names = {"second", "minute", "hour", "day", "month", "day-of-week"};
        int[][] bounds = {{0, 59}, {0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}};
        BitSet[] fields = new BitSet[6];
        for (int i = 0; i < 6; i++) {
            List<String> aliases = i == 4 ? MONTHS : i == 5 ? DAYS : List.of();
            int aliasBase = i == 4 ? 1 : 0;
            try {
                fields[i] = field(parts[i], bounds[i][0], bounds[i][1], aliases, aliasBase);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("'" + expression + "': the " + names[i] + " field '" + parts[i]
                        + "' " + e.getMessage(), e);
            }
        }
        return new NCrontab(expression, fields);
    }

    private static BitSet field(String text, int min, int max, List<String> aliases, int aliasBase) {
        BitSet set = new BitSet(max + 1);
        for (String item : text.split(",", -1)) {
            String range = item;
            int step = 1;
            int slash = item.indexOf('/');
            if (slash >= 0) {
                range = item.substring(0, slash);
                step = number(item.substring(slash + 1), 1, Integer.MAX_VALUE, List.of(), 0);
            }
            int from;
            int to;
            if (range.equals("*")) {
                from = min;
                to = max;
            } else if (range.contains("-")) {
                String[] ab = range.split("-", -1);
                if (ab.length != 2) {
                    throw new IllegalArgumentException("has a malformed range '" + range + "'");
                }
                from = number(ab[0], min, max, aliases, aliasBase);
                to = number(ab[1], min, max, aliases, aliasBase);
                if (from > to) {
                    throw new IllegalArgumentException("has a range '" + range + "' that ends before it starts");
                }
            } else {
                from = number(range, min, max, aliases, aliasBase);
                // "5/15" means from 5 to the end in steps of 15, as in NCrontab.
                to = slash >= 0 ? max : from;
            }
            for (int v = from; v <= to; v += step) {
                set.set(v);
            }
        }
        return set;
    }

    private static int number(String text, int min, int max, List<String> aliases, int aliasBase) {
        int alias = aliases.indexOf(text.toUpperCase(Locale.ROOT));
        if (alias >= 0) {
            return alias + aliasBase;
        }
        int v;
        try {
            v = Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("has '" + text + "', which is not a number"
                    + (aliases.isEmpty() ? "" : " or a name such as " + aliases.get(0)));
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("has " + v + ", outside " + min + "-" + max);
        }
        return v;
    }

    /**
     * The first time strictly after {@code after} (whole seconds, in {@code after}'s zone) that
     * matches, or throws when none exists within five years (e.g. 31 February).
     */
    public ZonedDateTime next(ZonedDateTime after) {
        ZonedDateTime t = after.truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
        ZonedDateTime limit = after.plusYears(5);
        while (t.isBefore(limit)) {
            if (!months.get(t.getMonthValue())) {
                t = t.withDayOfMonth(1).truncatedTo(ChronoUnit.DAYS).plusMonths(1);
            } else if (!days.get(t.getDayOfMonth()) || !daysOfWeek.get(t.getDayOfWeek().getValue() % 7)) {
                t = t.truncatedTo(ChronoUnit.DAYS).plusDays(1);
            } else if (!hours.get(t.getHour())) {
                t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
            } else if (!minutes.get(t.getMinute())) {
                t = t.truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
            } else if (!seconds.get(t.getSecond())) {
                t = t.plusSeconds(1);
            } else {
                return t;
            }
        }
        throw new IllegalStateException("'" + expression + "' matches no time in the five years after " + after);
    }

    public String expression() {
        return expression;
    }

    @Override
    public String toString() {
        return expression;
    }
}
