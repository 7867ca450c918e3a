package dev.ckptvault.provisioning;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a bootstrap run did, step by step: created, found (already as wanted), changed (found but
 * brought in line) or skipped (with the reason), plus notes on what it found but leaves to the
 * operator (bootstrap never removes anything). Endpoints are service URIs only: no key,
 * connection string or SAS ever goes in here.
 */
public final class BootstrapReport {
    /** One resource a step looked at; {@code detail} says what differed for a change. */
    public record Item(String step, String resource, String detail) {
    }

    /** A step not run, and why. */
    public record Skip(String step, String reason) {
    }

    /** Something a step found that the operator may want to act on. */
    public record Note(String step, String note) {
    }

    private final String mode;
    private final List<Item> created = new ArrayList<>();
    private final List<Item> found = new ArrayList<>();
    private final List<Item> changed = new ArrayList<>();
    private final List<Skip> skipped = new ArrayList<>();
    private final List<Note> notes = new ArrayList<>();
    private final Map<String, String> endpoints = new LinkedHashMap<>();

    public BootstrapReport(String mode) {
        this.mode = mode;
    }

    public void created(String step, String resource) {
        created.add(new Item(step, resource, null));
    }

    public void found(String step, String resource) {
        found.add(new Item(step, resource, null));
    }

    public void changed(String step, String resource, String detail) {
        changed.add(new Item(step, resource, detail));
    }

    public void skipped(String step, String reason) {
        skipped.add(new Skip(step, reason));
    }

    public void note(String step, String note) {
        notes.add(new Note(step, note));
    }

    public void endpoint(String service, String uri) {
        if (uri != null) {
            endpoints.put(service, uri);
        }
    }

    public String mode() {
        return mode;
    }

    public List<Item> created() {
        return List.copyOf(created);
    }

    public List<Item> found() {
        return List.copyOf(found);
    }

    public List<Item> changed() {
        return List.copyOf(changed);
    }

    public List<Skip> skipped() {
        return List.copyOf(skipped);
    }

    public List<Note> notes() {
        return List.copyOf(notes);
    }

    public Map<String, String> endpoints() {
        return Map.copyOf(endpoints);
    }

    /** The answer body of the admin route and the CLI's output. */
    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("mode", mode);
        out.put("created", items(created));
        out.put("found", items(found));
        out.put("changed", items(changed));
        List<Map<String, String>> skips = new ArrayList<>();
        for (Skip s : skipped) {
            skips.add(Map.of("step", s.step(), "reason", s.reason()));
        }
        out.put("skipped", skips);
        List<Map<String, String>> noteList = new ArrayList<>();
        for (Note n : notes) {
            noteList.add(Map.of("step", n.step(), "note", n.note()));
        }
        out.put("notes", noteList);
        out.put("endpoints", new LinkedHashMap<>(endpoints));
        return out;
    }

    private static List<Map<String, String>> items(List<Item> list) {
        List<Map<String, String>> out = new ArrayList<>();
        for (Item i : list) {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("step", i.step());
            m.put("resource", i.resource());
            if (i.detail() != null) {
                m.put("detail", i.detail());
            }
            out.add(m);
        }
        return out;
    }
}
