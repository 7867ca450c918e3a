package dev.ckptvault.retention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ckptvault.config.RetentionDefaults;
import dev.ckptvault.error.InvalidInputException;
import dev.ckptvault.json.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RetentionPolicyTest {
    static final RetentionPolicy DEFAULTS = RetentionPolicy.of(new RetentionDefaults(3, 0, 10, 1440, "delete"));

    @Test
    void theIssuesExamplePolicyParses() {
        RetentionPolicy p = RetentionPolicy.over(Json.parse("{\"keepLast\":3,\"keepEvery\":10000,\"keepBest\":"
                + "{\"metric\":\"val_loss\",\"mode\":\"min\",\"count\":2},\"minAgeMinutes\":10,"
                + "\"incompleteTtlMinutes\":1440,\"action\":\"delete\"}", "t"), "retention", DEFAULTS);
        assertEquals(new RetentionPolicy(3, 10000, new RetentionPolicy.KeepBest("val_loss", RetentionPolicy.Mode.MIN, 2),
                10, 1440, RetentionPolicy.Action.DELETE), p);
    }

    @Test
    void fieldsNotGivenComeFromTheDefaults() {
        RetentionPolicy p = RetentionPolicy.over(Json.parse("{\"keepEvery\":5,\"action\":\"cool\"}", "t"), "retention",
                DEFAULTS);
        assertEquals(new RetentionPolicy(3, 5, null, 10, 1440, RetentionPolicy.Action.COOL), p);
        assertNull(RetentionPolicy.over(Json.parse("{}", "t"), "retention", DEFAULTS).keepBest());
    }

    @Test
    void theJsonViewUsesLowerCaseWords() {
        assertEquals("{\"keepLast\":3,\"keepEvery\":0,\"keepBest\":{\"metric\":\"acc\",\"mode\":\"max\",\"count\":1},"
                + "\"minAgeMinutes\":10,\"incompleteTtlMinutes\":1440,\"action\":\"cool\"}",
                Json.write(new RetentionPolicy(3, 0, new RetentionPolicy.KeepBest("acc", RetentionPolicy.Mode.MAX, 1),
                        10, 1440, RetentionPolicy.Action.COOL)));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "not an object      | []                                              | retention",
            "keepLast zero      | {\"keepLast\":0}                                | retention.keepLast",
            "keepLast text      | {\"keepLast\":\"3\"}                            | retention.keepLast",
            "keepLast fraction  | {\"keepLast\":2.5}                              | retention.keepLast",
            "keepEvery negative | {\"keepEvery\":-1}                              | retention.keepEvery",
            "minAge too big     | {\"minAgeMinutes\":525601}                      | retention.minAgeMinutes",
            "ttl zero           | {\"incompleteTtlMinutes\":0}                    | retention.incompleteTtlMinutes",
            "action unknown     | {\"action\":\"archive\"}                        | retention.action",
            "action upper case  | {\"action\":\"DELETE\"}                         | retention.action",
            "unknown field      | {\"keepLastt\":3}                               | retention.keepLastt",
            "keepBest not obj   | {\"keepBest\":3}                                | retention.keepBest",
            "keepBest no metric | {\"keepBest\":{\"mode\":\"min\",\"count\":1}}   | retention.keepBest.metric",
            "keepBest bad mode  | {\"keepBest\":{\"metric\":\"l\",\"mode\":\"lowest\",\"count\":1}} | retention.keepBest.mode",
            "keepBest count 0   | {\"keepBest\":{\"metric\":\"l\",\"mode\":\"min\",\"count\":0}}    | retention.keepBest.count",
            "keepBest no count  | {\"keepBest\":{\"metric\":\"l\",\"mode\":\"min\"}}                | retention.keepBest.count",
            "keepBest blank     | {\"keepBest\":{\"metric\":\" \",\"mode\":\"min\",\"count\":1}}    | retention.keepBest.metric",
            "keepBest extra     | {\"keepBest\":{\"metric\":\"l\",\"mode\":\"min\",\"count\":1,\"x\":1}} | retention.keepBest.x",
    })
    void badFieldsAre400InvalidPolicyNamingTheField(String name, String json, String target) {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> RetentionPolicy.validateUserFields(Json.parse(json, "t"), "retention"));
        assertEquals("InvalidPolicy", e.code());
        assertEquals(target, e.target());
    }

    @Test
    void theStoredFormHoldsOnlyWhatTheUserSet() {
        assertEquals("{\"keepLast\":5}", Json.write(RetentionPolicy.validateUserFields(
                Json.parse("{\"keepLast\":5,\"keepEvery\":null}", "t"), "retention")));
    }
}
