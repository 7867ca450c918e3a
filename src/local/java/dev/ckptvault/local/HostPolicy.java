package dev.ckptvault.local;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which Host header values the local host answers. Listening on 127.0.0.1 keeps other machines
 * out, but not a web page in the developer's browser: through DNS rebinding a page of
 * {@code evil.example} can send requests to 127.0.0.1 with {@code Host: evil.example}. Only
 * loopback names (any port) are answered unless the developer names more.
 */
public record HostPolicy(Set<String> allowed) {
    public static final Set<String> LOOPBACK = Set.of("127.0.0.1", "localhost", "[::1]");
    public static final HostPolicy LOOPBACK_ONLY = new HostPolicy(LOOPBACK);

    public HostPolicy {
        Set<String> lower = new TreeSet<>();
        for (String a : allowed) {
            lower.add(a.toLowerCase(Locale.ROOT));
        }
        allowed = Set.copyOf(lower);
    }

    /** Loopback names and {@code extra} (from --allow-host). */
    public static HostPolicy loopbackAnd(List<String> extra) {
        Set<String> all = new TreeSet<>(LOOPBACK);
        for (String e : extra) {
            if (name(e).isEmpty() || e.contains(":") && !e.startsWith("[")) {
                throw new IllegalArgumentException("--allow-host takes a host name without port, got '" + e + "'");
            }
            all.add(e);
        }
        return new HostPolicy(all);
    }

    /** @param hostHeader the request's Host header, or null when it had none */
    public boolean allows(String hostHeader) {
        return hostHeader != null && name(hostHeader).map(allowed::contains).orElse(false);
    }

    /** The host part of a Host header value (lower case, IPv6 in brackets), or empty when it is not one. */
    static Optional<String> name(String header) {
        String h = header.strip();
        String host;
        String rest;
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            if (end < 0) {
                return Optional.empty();
            }
            host = h.substring(0, end + 1);
            rest = h.substring(end + 1);
        } else {
            int colon = h.indexOf(':');
            host = colon < 0 ? h : h.substring(0, colon);
            rest = colon < 0 ? "" : h.substring(colon);
        }
        if (host.isEmpty() || !(rest.isEmpty() || rest.matches(":[0-9]{1,5}"))) {
            return Optional.empty();
        }
        return Optional.of(host.toLowerCase(Locale.ROOT));
    }
}
