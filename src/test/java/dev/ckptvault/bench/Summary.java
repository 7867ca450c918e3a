package dev.ckptvault.bench;

import dev.ckptvault.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of one benchmark run: {@code target/bench/summary.json} (flat fields, the names are
 * the contract) and {@code target/bench/summary.md} (one table row per figure, with the baseline
 * it was measured against in the same run and the target it must meet, where there is one).
 */
final class Summary {
    /** One line of the table: a figure, what it was compared with, and the ratio. */
    record Row(String figure, String field, String value, String baseline, String ratio, String target,
               Boolean met) {
    }

    private static final Map<String, Object> FIELDS = new LinkedHashMap<>();
    private static final List<Row> ROWS = new ArrayList<>();
    private static final List<String> NOTES = new ArrayList<>();

    private Summary() {
    }

    static synchronized void put(String field, Object value) {
        FIELDS.put(field, value instanceof Double d ? round(d) : value);
    }

    static synchronized Object get(String field, Object otherwise) {
        return FIELDS.getOrDefault(field, otherwise);
    }

    static synchronized void row(String figure, String field, String value, String baseline, String ratio,
                                 String target, Boolean met) {
        ROWS.add(new Row(figure, field, value, baseline, ratio, target, met));
    }

    static synchronized void note(String text) {
        NOTES.add(text);
    }

    static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1000) / 1000.0 : v;
    }

    static String ms(double v) {
        return String.format(Locale.ROOT, "%.2f ms", v);
    }

    static String x(double v) {
        return String.format(Locale.ROOT, "%.2fx", v);
    }

    /**
     * Writes both files; {@code benches} are the benchmarks that ran.
     *
     * @param last prints the table as well
     */
    static synchronized void write(Path dir, List<String> benches, BenchMain.Rounds rounds, boolean last)
            throws IOException {
        Files.createDirectories(dir);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("measured_at", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        out.put("machine", Map.of("cores", Runtime.getRuntime().availableProcessors(),
                "java", System.getProperty("java.version"), "os", System.getProperty("os.name") + " "
                        + System.getProperty("os.arch"), "storage", "Azurite (npm) started by the benchmark"));
        out.put("benches", benches);
        out.put("rounds", Map.of("warmup", rounds.warmup(), "timed", rounds.timed()));
        out.putAll(FIELDS);
        Files.writeString(dir.resolve("summary.json"), Json.MAPPER.writerWithDefaultPrettyPrinter()
                .writeValueAsString(out) + "\n", StandardCharsets.UTF_8);
        StringBuilder md = new StringBuilder();
        md.append("Measured ").append(out.get("measured_at")).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" cores, Azurite; medians unless named.\n\n");
        md.append("| figure | field | measured | baseline (same run) | ratio | target |\n");
        md.append("|---|---|---|---|---|---|\n");
        for (Row r : ROWS) {
            md.append("| ").append(r.figure()).append(" | `").append(r.field()).append("` | ").append(r.value())
                    .append(" | ").append(r.baseline()).append(" | ").append(r.ratio()).append(" | ")
                    .append(r.target() == null ? "" : r.target() + (r.met() == null ? "" : r.met() ? " (met)" : " (NOT met)"))
                    .append(" |\n");
        }
        if (!NOTES.isEmpty()) {
            md.append('\n');
            NOTES.forEach(n -> md.append("- ").append(n).append('\n'));
        }
        Files.writeString(dir.resolve("summary.md"), md.toString(), StandardCharsets.UTF_8);
        if (!last) {
            return;
        }
        System.out.println();
        System.out.print(md);
        System.out.println("written: " + dir.resolve("summary.json") + ", " + dir.resolve("summary.md"));
    }
}
