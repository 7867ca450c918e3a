package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.azure.functions.HttpMethod;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class FunctionHostTest {
    private final FunctionHost host = TestFunctions.load(new TestFunctions.Checkpoints(),
            new TestFunctions.BlobEvents(), new TestFunctions.Sweep());

    private FunctionHost.Resolution resolve(HttpMethod method, String path) {
        return host.resolve(method, RouteTemplate.pathSegments(path));
    }

    @Test
    void routesMethodsAndAuthLevelsComeFromTheAnnotations() {
        FunctionHost.HttpFunction latest = host.httpFunctions().stream()
                .filter(f -> f.name().equals("Latest")).findFirst().orElseThrow();
        assertEquals("runs/{runId}/checkpoints/latest", latest.route().text());
        assertEquals(EnumSet.of(HttpMethod.GET), latest.methods());
        assertEquals(com.microsoft.azure.functions.annotation.AuthorizationLevel.FUNCTION, latest.authLevel());
        assertEquals(List.of("BlobEvents"), host.eventGridFunctions().stream().map(FunctionHost.EventGridFunction::name).toList());
        assertEquals("* * * * * *", host.timerFunctions().get(0).schedule().expression(), "%SCHED% resolved from settings");
    }

    @Test
    void latestAndNumericStepsReachDifferentFunctions() {
        FunctionHost.Found latest = assertInstanceOf(FunctionHost.Found.class, resolve(HttpMethod.GET, "runs/r/checkpoints/latest"));
        assertEquals("Latest", latest.function().name());
        FunctionHost.Found step = assertInstanceOf(FunctionHost.Found.class, resolve(HttpMethod.GET, "runs/r/checkpoints/12"));
        assertEquals("GetCheckpoint", step.function().name());
        assertEquals(Map.of("runId", "r", "step", "12"), step.routeValues());
        assertEquals("DeleteCheckpoint", assertInstanceOf(FunctionHost.Found.class,
                resolve(HttpMethod.DELETE, "runs/r/checkpoints/12")).function().name());
    }

    @Test
    void aKnownPathWithAnotherMethodIsMethodNotAllowedAndAnUnknownOneNotFound() {
        FunctionHost.MethodNotAllowed na = assertInstanceOf(FunctionHost.MethodNotAllowed.class,
                resolve(HttpMethod.POST, "runs/r/checkpoints/12"));
        assertEquals(EnumSet.of(HttpMethod.GET, HttpMethod.DELETE), na.allowed());
        assertInstanceOf(FunctionHost.NotFound.class, resolve(HttpMethod.GET, "runs/r/checkpoints/twelve"));
        assertInstanceOf(FunctionHost.NotFound.class, resolve(HttpMethod.GET, "nothing/here"));
    }

    @Test
    void twoFunctionsWhoseRoutesMatchTheSameRequestRefuseToStart() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestFunctions.load(new TestFunctions.SameRouteTwice()));
        assertTrue(e.getMessage().contains("'A'") && e.getMessage().contains("'B'"), e.getMessage());
    }

    @Test
    void oneRouteServedByDifferentFunctionsPerMethodIsFine() {
        FunctionHost h = TestFunctions.load(new TestFunctions.SameRouteOtherMethods());
        assertEquals("PinDelete", assertInstanceOf(FunctionHost.Found.class,
                h.resolve(HttpMethod.DELETE, RouteTemplate.pathSegments("runs/r/checkpoints/1/pin"))).function().name());
    }

    @Test
    void reservedRoutesRefuseToStart() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestFunctions.load(new TestFunctions.ReservedRoute()));
        assertTrue(e.getMessage().contains("Reindex") && e.getMessage().contains("admin/reindex"), e.getMessage());
    }

    @Test
    void parametersTheHostCannotBindRefuseToStart() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestFunctions.load(new TestFunctions.UnbindableParameter()));
        assertTrue(e.getMessage().contains("somethingElse"), e.getMessage());
    }

    @Test
    void aTimerScheduleNamingAMissingSettingRefusesToStartNamingIt() {
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> TestFunctions.load(new TestFunctions.MissingSetting()));
        assertTrue(e.getMessage().contains("NOT_SET_ANYWHERE"), e.getMessage());
    }
}
