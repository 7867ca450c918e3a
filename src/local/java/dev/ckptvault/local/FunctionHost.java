package dev.ckptvault.local;

import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.HttpMethod;
import com.microsoft.azure.functions.HttpRequestMessage;
import com.microsoft.azure.functions.annotation.AuthorizationLevel;
import com.microsoft.azure.functions.annotation.BindingName;
import com.microsoft.azure.functions.annotation.EventGridTrigger;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.HttpTrigger;
import com.microsoft.azure.functions.annotation.TimerTrigger;
import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The app's functions as the Functions host sees them, read from their annotations (there is no
 * second route table): HTTP functions with route, methods and auth level; Event Grid functions;
 * timer functions with their resolved schedule. Instances come from the app's
 * {@link FunctionInstanceInjector}, as in Azure.
 *
 * <p>Loading fails, like a host start in Azure would, on ambiguous or reserved routes, on two
 * functions with one name, and on parameters the local host cannot bind.
 */
public final class FunctionHost {
    private static final Pattern SETTING = Pattern.compile("%([A-Za-z0-9_]+)%");

    /** @param methods empty = every method */
    public record HttpFunction(String name, Object instance, Method method, RouteTemplate route,
                               Set<HttpMethod> methods, AuthorizationLevel authLevel) {
        boolean handles(HttpMethod m) {
            return methods.isEmpty() || methods.contains(m);
        }
    }

    public record EventGridFunction(String name, Object instance, Method method) {
    }

    public record TimerFunction(String name, Object instance, Method method, NCrontab schedule,
                                boolean runOnStartup) {
    }

    /** What a request path and method resolve to. */
    public sealed interface Resolution permits Found, MethodNotAllowed, NotFound {
    }

    public record Found(HttpFunction function, Map<String, String> routeValues) implements Resolution {
    }

    public record MethodNotAllowed(Set<HttpMethod> allowed) implements Resolution {
    }

    public record NotFound() implements Resolution {
    }

    private final List<HttpFunction> http;
    private final Map<String, EventGridFunction> eventGrid;
    private final List<TimerFunction> timers;

    private FunctionHost(List<HttpFunction> http, Map<String, EventGridFunction> eventGrid, List<TimerFunction> timers) {
        this.http = List.copyOf(http);
        this.eventGrid = Map.copyOf(eventGrid);
        this.timers = List.copyOf(timers);
    }

    /**
     * Reads every {@code @FunctionName} method of the given classes.
     *
     * @param settings app settings, for {@code %NAME%} in timer schedules
     * @throws IllegalStateException explaining why Azure would not start this app either
     */
    public static FunctionHost load(Collection<Class<?>> classes, FunctionInstanceInjector injector,
                                    Map<String, String> settings) {
        List<HttpFunction> http = new ArrayList<>();
        Map<String, EventGridFunction> eventGrid = new LinkedHashMap<>();
        List<TimerFunction> timers = new ArrayList<>();
        Map<String, String> seenNames = new LinkedHashMap<>();
        for (Class<?> type : classes) {
            for (Method m : type.getMethods()) {
                FunctionName fn = m.getAnnotation(FunctionName.class);
                if (fn == null) {
                    continue;
                }
                String name = fn.value();
                String where = type.getName() + "." + m.getName();
                String previous = seenNames.put(name.toLowerCase(), where);
                if (previous != null) {
                    throw new IllegalStateException("two functions are named '" + name + "': " + previous + " and " + where);
                }
                checkBindable(name, m);
                Object instance = Modifier.isStatic(m.getModifiers()) ? null : instance(injector, type);
                HttpTrigger ht = trigger(m, HttpTrigger.class);
                EventGridTrigger eg = trigger(m, EventGridTrigger.class);
                TimerTrigger tt = trigger(m, TimerTrigger.class);
                if (ht != null) {
                    RouteTemplate route;
                    try {
                        route = RouteTemplate.parse(ht.route().isEmpty() ? name : ht.route());
                    } catch (IllegalArgumentException e) {
                        throw new IllegalStateException("function '" + name + "': " + e.getMessage(), e);
                    }
                    Set<HttpMethod> methods = ht.methods().length == 0 ? EnumSet.noneOf(HttpMethod.class)
                            : EnumSet.copyOf(List.of(ht.methods()));
                    http.add(new HttpFunction(name, instance, m, route, methods, ht.authLevel()));
                } else if (eg != null) {
                    eventGrid.put(name, new EventGridFunction(name, instance, m));
                } else if (tt != null) {
                    String expression = resolve(tt.schedule(), settings, name);
                    NCrontab schedule;
                    try {
                        schedule = NCrontab.parse(expression);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalStateException("function '" + name + "' schedule " + e.getMessage(), e);
                    }
                    timers.add(new TimerFunction(name, instance, m, schedule, runOnStartup(tt)));
                } else {
                    throw new IllegalStateException("function '" + name + "' (" + where
                            + ") has no HTTP, Event Grid or timer trigger the local host can run");
                }
            }
        }
        checkAmbiguity(http);
        http.sort(Comparator.comparing(HttpFunction::route, RouteTemplate::comparePrecedence));
        return new FunctionHost(http, eventGrid, timers);
    }

    private static boolean runOnStartup(TimerTrigger tt) {
        try {
            // Older library versions have no runOnStartup; read it when present.
            return (boolean) TimerTrigger.class.getMethod("runOnStartup").invoke(tt);
        } catch (ReflectiveOperationException e) {
            return false;
        }
    }

    private static void checkAmbiguity(List<HttpFunction> http) {
        for (int i = 0; i < http.size(); i++) {
            for (int j = i + 1; j < http.size(); j++) {
                HttpFunction a = http.get(i);
                HttpFunction b = http.get(j);
                boolean shareMethod = a.methods().isEmpty() || b.methods().isEmpty()
                        || a.methods().stream().anyMatch(b.methods()::contains);
                if (shareMethod && a.route().isAmbiguousWith(b.route())) {
                    throw new IllegalStateException("routes of '" + a.name() + "' (" + a.route() + ") and '"
                            + b.name() + "' (" + b.route() + ") can match the same request with equal precedence");
                }
            }
        }
    }

    private static void checkBindable(String name, Method m) {
        for (Parameter p : m.getParameters()) {
            if (p.isAnnotationPresent(HttpTrigger.class)) {
                if (!HttpRequestMessage.class.isAssignableFrom(p.getType())) {
                    throw new IllegalStateException("function '" + name + "': the HTTP trigger parameter must be an HttpRequestMessage");
                }
            } else if (p.isAnnotationPresent(EventGridTrigger.class) || p.isAnnotationPresent(TimerTrigger.class)
                    || p.isAnnotationPresent(BindingName.class)) {
                if (p.getType() != String.class) {
                    throw new IllegalStateException("function '" + name + "': parameter '" + p.getName()
                            + "' must be a String for the local host");
                }
            } else if (p.getType() != ExecutionContext.class) {
                throw new IllegalStateException("function '" + name + "': the local host cannot bind parameter '"
                        + p.getName() + "' of type " + p.getType().getSimpleName());
            }
        }
    }

    private static <A extends java.lang.annotation.Annotation> A trigger(Method m, Class<A> type) {
        for (Parameter p : m.getParameters()) {
            A a = p.getAnnotation(type);
            if (a != null) {
                return a;
            }
        }
        return null;
    }

    private static Object instance(FunctionInstanceInjector injector, Class<?> type) {
        try {
            return injector.getInstance(type);
        } catch (Exception e) {
            throw new IllegalStateException("the FunctionInstanceInjector gave no instance of " + type.getName()
                    + ": " + e.getMessage(), e);
        }
    }

    /** Replaces {@code %NAME%} by the app setting, as the host does for trigger attributes. */
    static String resolve(String value, Map<String, String> settings, String function) {
        Matcher m = SETTING.matcher(value);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String v = settings.get(m.group(1));
            if (v == null || v.isBlank()) {
                throw new IllegalStateException("function '" + function + "' needs the app setting " + m.group(1));
            }
            m.appendReplacement(out, Matcher.quoteReplacement(v));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The function for a request: most specific matching route first; 405 when only the method is wrong. */
    public Resolution resolve(HttpMethod method, List<String> pathSegments) {
        Set<HttpMethod> allowed = EnumSet.noneOf(HttpMethod.class);
        boolean pathMatched = false;
        for (HttpFunction f : http) {
            Optional<Map<String, String>> values = f.route().match(pathSegments);
            if (values.isEmpty()) {
                continue;
            }
            if (f.handles(method)) {
                return new Found(f, values.get());
            }
            pathMatched = true;
            allowed.addAll(f.methods());
        }
        return pathMatched ? new MethodNotAllowed(allowed) : new NotFound();
    }

    public List<HttpFunction> httpFunctions() {
        return http;
    }

    public Optional<EventGridFunction> eventGridFunction(String name) {
        return eventGrid.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name))
                .map(Map.Entry::getValue).findFirst();
    }

    public Collection<EventGridFunction> eventGridFunctions() {
        return eventGrid.values();
    }

    public List<TimerFunction> timerFunctions() {
        return timers;
    }

    /** Runs an HTTP function; route values and query parameters feed its {@code @BindingName}s. */
    public Object invokeHttp(HttpFunction f, HttpRequestMessage<Optional<String>> request,
                             Map<String, String> routeValues) throws Exception {
        ExecutionContext context = LocalExecutionContext.forInvocation(f.name());
        Object[] args = new Object[f.method().getParameterCount()];
        Parameter[] ps = f.method().getParameters();
        for (int i = 0; i < ps.length; i++) {
            if (ps[i].isAnnotationPresent(HttpTrigger.class)) {
                args[i] = request;
            } else if (ps[i].getType() == ExecutionContext.class) {
                args[i] = context;
            } else if (ps[i].isAnnotationPresent(BindingName.class)) {
                String key = ps[i].getAnnotation(BindingName.class).value();
                args[i] = lookup(routeValues, key).or(() -> lookup(request.getQueryParameters(), key)).orElse(null);
            }
        }
        return call(f.method(), f.instance(), args);
    }

    /** Runs an Event Grid function for one event (its JSON text). */
    public void invokeEventGrid(EventGridFunction f, String eventJson) throws Exception {
        call(f.method(), f.instance(), triggerArgs(f.method(), EventGridTrigger.class, eventJson, f.name()));
    }

    /** Runs a timer function with the host's timer info JSON. */
    public void invokeTimer(TimerFunction f, String timerInfoJson) throws Exception {
        call(f.method(), f.instance(), triggerArgs(f.method(), TimerTrigger.class, timerInfoJson, f.name()));
    }

    private static Object[] triggerArgs(Method m, Class<? extends java.lang.annotation.Annotation> trigger,
                                        String value, String name) {
        Object[] args = new Object[m.getParameterCount()];
        Parameter[] ps = m.getParameters();
        for (int i = 0; i < ps.length; i++) {
            if (ps[i].isAnnotationPresent(trigger)) {
                args[i] = value;
            } else if (ps[i].getType() == ExecutionContext.class) {
                args[i] = LocalExecutionContext.forInvocation(name);
            }
        }
        return args;
    }

    private static Optional<String> lookup(Map<String, String> values, String key) {
        return values.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(key))
                .map(Map.Entry::getValue).findFirst();
    }

    private static Object call(Method m, Object instance, Object[] args) throws Exception {
        try {
            return m.invoke(instance, args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        }
    }
}
