package dev.ckptvault.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** Per-variant round times and the table every benchmark prints; the first variant is the baseline. */
final class Timings {
    private final List<String> names = new ArrayList<>();
    private final List<long[]> nanos = new ArrayList<>();
    private final int rounds;
    private final int unitsPerRound;

    Timings(int rounds, int unitsPerRound) {
        this.rounds = rounds;
        this.unitsPerRound = unitsPerRound;
    }

    int variant(String name) {
        names.add(name);
        nanos.add(new long[rounds]);
        return names.size() - 1;
    }

    void record(int variant, int round, long elapsedNanos) {
        nanos.get(variant)[round] = elapsedNanos;
    }

    /** A variant's percentile over its timed rounds, in milliseconds. */
    double ms(int variant, double p) {
        long[] s = nanos.get(variant).clone();
        Arrays.sort(s);
        return percentile(s, p) / 1e6;
    }

    double medianMs(int variant) {
        return ms(variant, 50);
    }

    /** Nearest-rank percentile of the sorted samples. */
    static long percentile(long[] sorted, double p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    void print() {
        long[] base = nanos.get(0).clone();
        Arrays.sort(base);
        double baseMedian = percentile(base, 50);
        int width = names.stream().mapToInt(String::length).max().orElse(10);
        String header = String.format(Locale.ROOT, "%-" + width + "s  %10s  %10s  %12s  %18s",
                "variant", "median ms", "p90 ms", "median us/op", "speedup vs baseline");
        System.out.println(header);
        System.out.println("-".repeat(header.length()));
        for (int i = 0; i < names.size(); i++) {
            long[] s = nanos.get(i).clone();
            Arrays.sort(s);
            long median = percentile(s, 50);
            System.out.println(String.format(Locale.ROOT, "%-" + width + "s  %10.2f  %10.2f  %12.2f  %17.2fx",
                    names.get(i), median / 1e6, percentile(s, 90) / 1e6, median / 1e3 / unitsPerRound,
                    baseMedian / median));
        }
    }
}
