package dev.ckptvault.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ckptvault.error.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RunIdTest {
    @ParameterizedTest
    @ValueSource(strings = {"a", "Z", "7", "llama-70b.run_3", "0.-_"})
    void acceptsLettersDigitsDotUnderscoreDashStartingWithLetterOrDigit(String value) {
        assertEquals(value, new RunId(value).value());
    }

    @Test
    void acceptsExactly128Characters() {
        assertEquals(128, new RunId("r".repeat(128)).value().length());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-run", ".run", "_run", "run/1", "run 1", "run\\1", "..", "%2e%2e", "run\u0000",
            "run\n", "rün", "run\u2024x", "ｒｕｎ", "run\u200b"})
    void refusesNamesOutsideTheLayout(String value) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> new RunId(value));
        assertEquals("InvalidRunId", e.code());
        assertEquals("runId", e.target());
    }

    @Test
    void refuses129Characters() {
        assertThrows(InvalidInputException.class, () -> new RunId("r".repeat(129)));
    }

    @Test
    void refusesNull() {
        assertThrows(InvalidInputException.class, () -> new RunId(null));
    }
}
