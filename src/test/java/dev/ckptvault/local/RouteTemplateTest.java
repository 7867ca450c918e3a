package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class RouteTemplateTest {
    private static Optional<Map<String, String>> match(String template, String path) {
        return RouteTemplate.parse(template).match(RouteTemplate.pathSegments(path));
    }

    @Test
    void latestNeverMatchesALongStepParameter() {
        assertTrue(match("runs/{runId}/checkpoints/{step:long}", "/runs/r1/checkpoints/latest").isEmpty());
        assertEquals(Map.of("runId", "r1"), match("runs/{runId}/checkpoints/latest", "/runs/r1/checkpoints/latest").get());
    }

    @ParameterizedTest
    @CsvSource({"1200,true", "0,true", "-5,true", "9223372036854775807,true", "9223372036854775808,false",
            "12a,false", "1.5,false", "latest,false"})
    void longConstraintAcceptsOnlyValuesThatFitALong(String step, boolean matches) {
        assertEquals(matches, match("runs/{runId}/checkpoints/{step:long}", "/runs/r/checkpoints/" + step).isPresent());
    }

    @Test
    void intAlphaBoolAndGuidConstraintsFilterValues() {
        assertTrue(match("x/{n:int}", "x/2147483647").isPresent());
        assertTrue(match("x/{n:int}", "x/2147483648").isEmpty());
        assertTrue(match("x/{a:alpha}", "x/abcXYZ").isPresent());
        assertTrue(match("x/{a:alpha}", "x/abc1").isEmpty());
        assertTrue(match("x/{b:bool}", "x/TRUE").isPresent());
        assertTrue(match("x/{b:bool}", "x/yes").isEmpty());
        assertTrue(match("x/{g:guid}", "x/512d38b6-c7b8-40c8-89fe-f46f9e9622b6").isPresent());
        assertTrue(match("x/{g:guid}", "x/512d38b6").isEmpty());
    }

    @Test
    void literalsMatchIgnoringCaseAndValuesAreDecodedPerSegment() {
        assertEquals(Map.of("runId", "a b/c"), match("RUNS/{runId}", "/runs/a%20b%2Fc").get());
        assertTrue(match("runs/{runId}", "/runs/a/b").isEmpty());
        assertTrue(match("runs/{runId}", "/runs/a/").isPresent(), "a trailing slash is ignored");
        assertTrue(match("runs/{runId}", "/runs").isEmpty());
    }

    @ParameterizedTest(name = "{0} vs {1}: ambiguous={2}")
    @CsvSource({
            "runs/{runId},                    runs/{id},                       true",
            "runs/latest,                     RUNS/Latest,                     true",
            "runs/{a:long},                   runs/{b:int},                    true",
            "runs/{a:alpha},                  runs/{b:bool},                   true",
            "runs/{a:long},                   runs/{b:alpha},                  false",
            "runs/{a:guid},                   runs/{b:long},                   false",
            "runs/latest,                     runs/{step:long},                false",
            "runs/{x},                        runs/{x:long},                   false",
            "a/{x}/b,                         a/b/{x},                         false",
            "a/{x},                           a/{x}/b,                         false",
            "runs/a,                          runs/b,                          false"})
    void ambiguityMeansSomePathMatchesBothWithEqualPrecedence(String a, String b, boolean ambiguous) {
        RouteTemplate ra = RouteTemplate.parse(a);
        RouteTemplate rb = RouteTemplate.parse(b);
        assertEquals(ambiguous, ra.isAmbiguousWith(rb));
        assertEquals(ambiguous, rb.isAmbiguousWith(ra), "ambiguity is symmetric");
    }

    @Test
    void moreSpecificRoutesWinPrecedence() {
        RouteTemplate literal = RouteTemplate.parse("runs/{r}/checkpoints/latest");
        RouteTemplate constrained = RouteTemplate.parse("runs/{r}/checkpoints/{s:long}");
        RouteTemplate plain = RouteTemplate.parse("runs/{r}/checkpoints/{s}");
        assertTrue(literal.comparePrecedence(constrained) < 0);
        assertTrue(constrained.comparePrecedence(plain) < 0);
        assertTrue(literal.comparePrecedence(plain) < 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"admin/reindex", "Admin/x", "runtime/webhooks/x", "/RUNTIME"})
    void routesReservedByTheFunctionsHostAreRefused(String route) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RouteTemplate.parse(route));
        assertTrue(e.getMessage().contains("reserves"), e.getMessage());
    }

    @Test
    void manageRoutesAreNotReserved() {
        assertFalse(RouteTemplate.parse("manage/reindex").segments().isEmpty());
        assertTrue(match("administer/{x}", "administer/1").isPresent());
    }

    @ParameterizedTest
    @ValueSource(strings = {"runs/{runId?}", "files/{*path}", "runs/{n=1}", "runs/{n:long:min(0)}", "runs/{n:regex(a)}",
            "runs/x{n}", "runs//x", "runs/{a}/{A}", ""})
    void routeFeaturesTheLocalHostCannotHonourAreRefusedWithTheRouteNamed(String route) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RouteTemplate.parse(route));
        assertTrue(e.getMessage().contains("'" + route + "'"), e.getMessage());
    }

    @Test
    void pathSegmentsKeepUtf8AndMalformedEscapes() {
        assertEquals(List.of("ä", "100%"), RouteTemplate.pathSegments("/%C3%A4/100%"));
    }
}
