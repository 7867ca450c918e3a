package dev.ckptvault.local;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * One HTTP function route as the Functions host reads it (ASP.NET Core routing): literal
 * segments matched case-insensitively, {@code {name}} parameters, and {@code {name:constraint}}
 * parameters that match only values the constraint accepts.
 *
 * <p>Precedence follows ASP.NET Core's inbound order, per segment from the left: a literal (1)
 * beats a constrained parameter (3), which beats a plain parameter (4). Two routes are
 * <em>ambiguous</em> when they have the same number of segments and, at every position, segments
 * of the same precedence class that accept at least one common value (equal literals; parameters
 * whose constraints share a value). For such a pair some path matches both with equal
 * precedence, so which function runs would be arbitrary: the host refuses to start. Routes that
 * differ in precedence at some position are fine (the more specific wins), as are routes that no
 * path can match both of.
 *
 * <p>Optional ({@code {x?}}), catch-all ({@code {*x}}), default-value and multi-constraint
 * parameters are refused: the app does not use them and a silent approximation would route
 * differently than Azure.
 */
public final class RouteTemplate {
    /** Route parameter constraints the local host implements, with the values each accepts. */
    public enum Constraint {
        INT(Pattern.compile("-?\\d{1,10}")) {
            @Override
            boolean accepts(String v) {
                return super.accepts(v) && fits(v, Integer.MIN_VALUE, Integer.MAX_VALUE);
            }
        },
        LONG(Pattern.compile("-?\\d{1,19}")) {
            @Override
            boolean accepts(String v) {
                return super.accepts(v) && fits(v, Long.MIN_VALUE, Long.MAX_VALUE);
            }
        },
        ALPHA(Pattern.compile("[A-Za-z]+")),
        BOOL(Pattern.compile("(?i)true|false")),
        GUID(Pattern.compile("(?i)\\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\\}?"));

        private final Pattern pattern;

        Constraint(Pattern pattern) {
            this.pattern = pattern;
        }

        boolean accepts(String value) {
            return pattern.matcher(value).matches();
        }

        /** Whether some value passes both constraints ("1" is an int and a long; "true" is alpha and bool). */
        boolean sharesAValueWith(Constraint other) {
            if (this == other) {
                return true;
            }
            return pair(other, INT, LONG) || pair(other, ALPHA, BOOL);
        }

        private boolean pair(Constraint other, Constraint a, Constraint b) {
            return (this == a && other == b) || (this == b && other == a);
        }

        private static boolean fits(String v, long min, long max) {
            try {
                long n = Long.parseLong(v);
                return n >= min && n <= max;
            } catch (NumberFormatException e) {
                return false;
            }
        }

        static Constraint named(String name, String template) {
            for (Constraint c : values()) {
                if (c.name().equalsIgnoreCase(name)) {
                    return c;
                }
            }
            throw new IllegalArgumentException("route '" + template + "' uses the constraint '" + name
                    + "', which the local host does not implement (supported: int, long, alpha, bool, guid)");
        }
    }

    /** One '/'-separated part of a template. */
    public sealed interface Segment permits Literal, Parameter {
        int precedence();

        boolean accepts(String value);
    }

    public record Literal(String text) implements Segment {
        @Override
        public int precedence() {
            return 1;
        }

        @Override
        public boolean accepts(String value) {
            return text.equalsIgnoreCase(value);
        }
    }

    /** @param constraint null for a plain parameter */
    public record Parameter(String name, Constraint constraint) implements Segment {
        @Override
        public int precedence() {
            return constraint == null ? 4 : 3;
        }

        @Override
        public boolean accepts(String value) {
            return !value.isEmpty() && (constraint == null || constraint.accepts(value));
        }
    }

    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final List<String> RESERVED = List.of("admin", "runtime");

    private final String text;
    private final List<Segment> segments;

    private RouteTemplate(String text, List<Segment> segments) {
        this.text = text;
        this.segments = List.copyOf(segments);
    }

    /**
     * Parses a route as written in {@code @HttpTrigger(route = ...)}.
     *
     * @throws IllegalArgumentException naming the route and what is wrong with it
     */
    public static RouteTemplate parse(String template) {
        String t = template.startsWith("/") ? template.substring(1) : template;
        if (t.endsWith("/")) {
            t = t.substring(0, t.length() - 1);
        }
        if (t.isEmpty()) {
            throw new IllegalArgumentException("route '" + template + "' is empty");
        }
        List<Segment> segments = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (String part : t.split("/", -1)) {
            if (part.isEmpty()) {
                throw new IllegalArgumentException("route '" + template + "' has an empty segment");
            }
            if (part.startsWith("{") && part.endsWith("}")) {
                Parameter p = parameter(part.substring(1, part.length() - 1), template);
                if (names.stream().anyMatch(n -> n.equalsIgnoreCase(p.name()))) {
                    throw new IllegalArgumentException("route '" + template + "' repeats the parameter '" + p.name() + "'");
                }
                names.add(p.name());
                segments.add(p);
            } else if (part.contains("{") || part.contains("}")) {
                throw new IllegalArgumentException("route '" + template + "' mixes text and a parameter in '" + part
                        + "'; the local host supports whole-segment parameters only");
            } else {
                segments.add(new Literal(part));
            }
        }
        if (segments.get(0) instanceof Literal first
                && RESERVED.contains(first.text().toLowerCase(Locale.ROOT))) {
            throw new IllegalArgumentException("route '" + template + "' starts with '" + first.text()
                    + "', which the Functions host reserves; Azure would not serve it");
        }
        return new RouteTemplate(template, segments);
    }

    private static Parameter parameter(String inside, String template) {
        if (inside.startsWith("*") || inside.endsWith("?") || inside.contains("=")) {
            throw new IllegalArgumentException("route '" + template + "' uses '{" + inside
                    + "}': optional, catch-all and default-value parameters are not supported by the local host");
        }
        String[] parts = inside.split(":", -1);
        if (!NAME.matcher(parts[0]).matches()) {
            throw new IllegalArgumentException("route '" + template + "' has an invalid parameter name '" + parts[0] + "'");
        }
        if (parts.length > 2) {
            throw new IllegalArgumentException("route '" + template + "' puts more than one constraint on '"
                    + parts[0] + "'; the local host supports one");
        }
        return new Parameter(parts[0], parts.length == 2 ? Constraint.named(parts[1], template) : null);
    }

    public String text() {
        return text;
    }

    public List<Segment> segments() {
        return segments;
    }

    /** Route values by parameter name when every segment accepts its part of the path. */
    public Optional<Map<String, String>> match(List<String> pathSegments) {
        if (pathSegments.size() != segments.size()) {
            return Optional.empty();
        }
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < segments.size(); i++) {
            Segment s = segments.get(i);
            String v = pathSegments.get(i);
            if (!s.accepts(v)) {
                return Optional.empty();
            }
            if (s instanceof Parameter p) {
                values.put(p.name(), v);
            }
        }
        return Optional.of(values);
    }

    /** Negative when this route wins over {@code other} for a path both match. */
    public int comparePrecedence(RouteTemplate other) {
        int n = Math.min(segments.size(), other.segments.size());
        for (int i = 0; i < n; i++) {
            int c = Integer.compare(segments.get(i).precedence(), other.segments.get(i).precedence());
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(segments.size(), other.segments.size());
    }

    /** True when some path matches both routes with equal precedence (see the class comment). */
    public boolean isAmbiguousWith(RouteTemplate other) {
        if (segments.size() != other.segments.size()) {
            return false;
        }
        for (int i = 0; i < segments.size(); i++) {
            Segment a = segments.get(i);
            Segment b = other.segments.get(i);
            if (a.precedence() != b.precedence() || !shareAValue(a, b)) {
                return false;
            }
        }
        return true;
    }

    private static boolean shareAValue(Segment a, Segment b) {
        if (a instanceof Literal la && b instanceof Literal lb) {
            return la.text().equalsIgnoreCase(lb.text());
        }
        if (a instanceof Parameter pa && b instanceof Parameter pb) {
            return pa.constraint() == null ? pb.constraint() == null
                    : pb.constraint() != null && pa.constraint().sharesAValueWith(pb.constraint());
        }
        return false;
    }

    /**
     * Splits a raw request path (below the route prefix) into decoded segments. Decoding happens
     * per segment, so an encoded '/' stays inside its segment as it does in ASP.NET Core.
     */
    public static List<String> pathSegments(String rawPath) {
        String p = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
        if (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        List<String> out = new ArrayList<>();
        if (p.isEmpty()) {
            return out;
        }
        for (String s : p.split("/", -1)) {
            out.add(percentDecode(s));
        }
        return out;
    }

    static String percentDecode(String s) {
        if (s.indexOf('%') < 0) {
            return s;
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c == '%' && i + 2 < s.length() && Character.digit(s.charAt(i + 1), 16) >= 0
                    && Character.digit(s.charAt(i + 2), 16) >= 0) {
                bytes.write(Character.digit(s.charAt(i + 1), 16) * 16 + Character.digit(s.charAt(i + 2), 16));
                i += 3;
            } else {
                int cp = s.codePointAt(i);
                byte[] b = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
                bytes.write(b, 0, b.length);
                i += Character.charCount(cp);
            }
        }
        return bytes.toString(StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
        return text;
    }
}
