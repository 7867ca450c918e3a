package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.ZonedDateTime;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class NCrontabTest {
    private static ZonedDateTime at(String iso) {
        return ZonedDateTime.parse(iso);
    }

    @ParameterizedTest(name = "''{0}'' after {1} -> {2}")
    @CsvSource(delimiter = '|', value = {
            "0 */5 * * * *      | 2026-11-25T10:02:30Z | 2026-11-25T10:05:00Z",
            "0 */1 * * * *      | 2026-11-25T10:00:00Z | 2026-11-25T10:01:00Z",
            "0 */1 * * * *      | 2026-11-25T10:00:59.900Z | 2026-11-25T10:01:00Z",
            "*/15 * * * * *     | 2026-11-25T10:00:15Z | 2026-11-25T10:00:30Z",
            "5/20 * * * * *     | 2026-11-25T10:00:26Z | 2026-11-25T10:00:45Z",
            "0 0 6,18 * * *     | 2026-11-25T07:00:00Z | 2026-11-25T18:00:00Z",
            "0 30 9 * * 1-5     | 2026-11-27T10:00:00Z | 2026-11-30T09:30:00Z",
            "0 30 9 * * MON-FRI | 2026-11-28T10:00:00Z | 2026-11-30T09:30:00Z",
            "0 0 0 1 JAN *      | 2026-11-25T00:00:00Z | 2027-01-01T00:00:00Z",
            "0 0 0 29 2 *       | 2026-03-01T00:00:00Z | 2028-02-29T00:00:00Z",
            "0 0 0 13 * FRI     | 2026-11-25T00:00:00Z | 2027-08-13T00:00:00Z",
            "0 0 12 * * 0       | 2026-11-25T00:00:00Z | 2026-11-29T12:00:00Z",
            "59 59 23 31 12 *   | 2026-12-31T23:59:59Z | 2027-12-31T23:59:59Z"})
    void nextIsTheFirstMatchingSecondStrictlyAfter(String expression, String after, String expected) {
        assertEquals(at(expected), NCrontab.parse(expression).next(at(after)));
    }

    @ParameterizedTest(name = "''{0}'' is refused naming {1}")
    @CsvSource(delimiter = '|', value = {
            "0 */5 * * *       | six",
            "60 * * * * *      | second",
            "0 a * * * *       | minute",
            "0 0 5-1 * * *     | hour",
            "0 0 0 0 * *       | day",
            "0 0 0 * 13 *      | month",
            "0 0 0 * * 7       | day-of-week",
            "*/0 * * * * *     | second",
            "0 0 0 * FOO *     | month"})
    void malformedExpressionsAreRefusedNamingTheField(String expression, String field) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NCrontab.parse(expression));
        assertTrue(e.getMessage().contains(field), e.getMessage());
    }

    @Test
    void anExpressionThatNeverMatchesSaysSoInsteadOfLoopingForever() {
        assertThrows(IllegalStateException.class, () -> NCrontab.parse("0 0 0 30 2 *").next(at("2026-01-01T00:00:00Z")));
    }
}
