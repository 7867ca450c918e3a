package dev.ckptvault.layout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ckptvault.error.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class StepTest {
    @Test
    void foldersAreZeroPaddedToTwelveDigits() {
        assertEquals("step-000000000000", Step.of(0).folder());
        assertEquals("step-000000001200", Step.of(1200).folder());
        assertEquals("step-999999999999", Step.of(999_999_999_999L).folder());
    }

    @Test
    void refusesNegativeAndTooLarge() {
        assertThrows(InvalidInputException.class, () -> Step.of(-1));
        assertThrows(InvalidInputException.class, () -> Step.of(1_000_000_000_000L));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "-1", "+1", "1e3", "12a", "0x10", " 1", "1.0", "1000000000000", "99999999999999999999",
            "١٢", "１"})
    void parseRefusesAnythingButPlainDecimalDigitsInRange(String text) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Step.parse(text, "step"));
        assertEquals("InvalidStep", e.code());
        assertEquals("step", e.target());
    }

    @Test
    void parseAcceptsLeadingZerosAndTheLargestStep() {
        assertEquals(7, Step.parse("007", "step").value());
        assertEquals(999_999_999_999L, Step.parse("999999999999", "step").value());
    }
}
