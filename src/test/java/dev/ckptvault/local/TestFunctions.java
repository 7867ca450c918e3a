package dev.ckptvault.local;

import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.HttpResponseMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.EventGridTrigger;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import com.microsoft.azure.functions.annotation.TimerTrigger;
import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;
import dev.ckptvault.http.HttpApi;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

/** Small function classes shaped like the app's, for driving the local host without storage. */
final class TestFunctions {
    private TestFunctions() {
    }

    /** An injector that hands out the given instances, as the app's composition root would. */
    static FunctionInstanceInjector injector(Object... instances) {
        return new FunctionInstanceInjector() {
            @Override
            public <T> T getInstance(Class<T> type) {
                for (Object o : instances) {
                    if (type.isInstance(o)) {
                        return type.cast(o);
                    }
                }
                throw new IllegalArgumentException("no instance of " + type);
            }
        };
    }

    static FunctionHost load(Object... instances) {
        return FunctionHost.load(java.util.Arrays.stream(instances).<Class<?>>map(Object::getClass).toList(),
                injector(instances), Map.of("SCHED", "* * * * * *"));
    }

    /** Echoes what it was bound to, so a test sees route values, query values and the body. */
    public static class Checkpoints {
        @FunctionName("Latest")
        public HttpResponseMessage latest(
                @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION,
                        route = "runs/{runId}/checkpoints/latest") HttpRequestMessage<Optional<String>> request,
                @BindingName("runId") String runId) {
            return echo(request, "Latest", Map.of("runId", runId));
        }

        @FunctionName("GetCheckpoint")
        public HttpResponseMessage get(
                @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.FUNCTION,
                        route = "runs/{runId}/checkpoints/{step:long}") HttpRequestMessage<Optional<String>> request,
                @BindingName("runId") String runId, @BindingName("step") String step,
                @BindingName("downloads") String downloads, ExecutionContext context) {
            Map<String, String> bound = new LinkedHashMap<>();
            bound.put("runId", runId);
            bound.put("step", step);
            bound.put("downloads", downloads);
            bound.put("function", context.getFunctionName());
            return echo(request, "GetCheckpoint", bound);
        }

        @FunctionName("DeleteCheckpoint")
        public HttpResponseMessage delete(
                @HttpTrigger(name = "req", methods = {HttpMethod.DELETE}, authLevel = AuthorizationLevel.ADMIN,
                        route = "runs/{runId}/checkpoints/{step:long}") HttpRequestMessage<Optional<String>> request) {
            return echo(request, "DeleteCheckpoint", Map.of());
        }

        @FunctionName("Ping")
        public HttpResponseMessage ping(
                @HttpTrigger(name = "req", methods = {HttpMethod.GET}, authLevel = AuthorizationLevel.ANONYMOUS,
                        route = "ping") HttpRequestMessage<Optional<String>> request) {
            return echo(request, "Ping", Map.of());
        }

        @FunctionName("Commit")
        public HttpResponseMessage commit(
                @HttpTrigger(name = "req", methods = {HttpMethod.POST}, authLevel = AuthorizationLevel.FUNCTION,
                        route = "runs/{runId}/checkpoints/{step:long}/commit") HttpRequestMessage<Optional<String>> request) {
            return echo(request, "Commit", Map.of("body", request.getBody().orElse("")));
        }

        private static HttpResponseMessage echo(HttpRequestMessage<Optional<String>> request, String function,
                                                Map<String, String> bound) {
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("function", function);
            body.put("bound", bound);
            return HttpApi.json(request, 200, body);
        }
    }

    /** Records every event it is given; throws while {@link #failing} is set. */
    public static class BlobEvents {
        final List<String> events = new CopyOnWriteArrayList<>();
        volatile boolean failing;

        @FunctionName("BlobEvents")
        public void run(@EventGridTrigger(name = "event") String event, ExecutionContext context) {
            if (failing) {
                throw new IllegalStateException("storage unavailable (test)");
            }
            events.add(event);
        }
    }

    public static class Sweep {
        final List<String> runs = new CopyOnWriteArrayList<>();
        final java.util.concurrent.CountDownLatch twice = new java.util.concurrent.CountDownLatch(2);

        @FunctionName("Sweep")
        public void run(@TimerTrigger(name = "timer", schedule = "%SCHED%") String timerInfo, ExecutionContext context) {
            runs.add(timerInfo);
            twice.countDown();
        }
    }

    public static class SameRouteTwice {
        @FunctionName("A")
        public HttpResponseMessage a(@HttpTrigger(name = "req", methods = {HttpMethod.GET},
                route = "runs/{runId}") HttpRequestMessage<Optional<String>> request) {
            return null;
        }

        @FunctionName("B")
        public HttpResponseMessage b(@HttpTrigger(name = "req", methods = {HttpMethod.GET, HttpMethod.PUT},
                route = "Runs/{id}") HttpRequestMessage<Optional<String>> request) {
            return null;
        }
    }

    public static class SameRouteOtherMethods {
        @FunctionName("PinPut")
        public HttpResponseMessage put(@HttpTrigger(name = "req", methods = {HttpMethod.PUT},
                route = "runs/{runId}/checkpoints/{step:long}/pin") HttpRequestMessage<Optional<String>> request) {
            return null;
        }

        @FunctionName("PinDelete")
        public HttpResponseMessage delete(@HttpTrigger(name = "req", methods = {HttpMethod.DELETE},
                route = "runs/{runId}/checkpoints/{step:long}/pin") HttpRequestMessage<Optional<String>> request) {
            return null;
        }
    }

    public static class ReservedRoute {
        @FunctionName("Reindex")
        public HttpResponseMessage reindex(@HttpTrigger(name = "req", methods = {HttpMethod.POST},
                authLevel = AuthorizationLevel.ADMIN, route = "admin/reindex") HttpRequestMessage<Optional<String>> request) {
            return null;
        }
    }

    public static class UnbindableParameter {
        @FunctionName("Odd")
        public HttpResponseMessage odd(@HttpTrigger(name = "req", route = "odd") HttpRequestMessage<Optional<String>> request,
                                       Integer somethingElse) {
            return null;
        }
    }

    public static class MissingSetting {
        @FunctionName("Nightly")
        public void run(@TimerTrigger(name = "timer", schedule = "%NOT_SET_ANYWHERE%") String timerInfo) {
        }
    }
}
