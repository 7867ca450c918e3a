package dev.ckptvault.bench;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs benchmarks by name ({@code mvn -Pbench test-compile exec:java -Dexec.args=SasSigningBench}),
 * all of them without arguments. Not part of {@code mvn verify}: timings belong in benchmarks that
 * compare against a baseline measured in the same run, never in unit tests.
 */
public final class BenchMain {
    /** One benchmark: measures its variants and prints its table. */
    interface Bench {
        void run(Rounds rounds) throws Exception;
    }

    /** Untimed warm-up rounds, then timed rounds ({@code -Dbench.warmup}, {@code -Dbench.rounds}). */
    record Rounds(int warmup, int timed) {
        Rounds {
            if (warmup < 0 || timed < 1) {
                throw new IllegalArgumentException("bench.warmup must be >= 0 and bench.rounds >= 1");
            }
        }
    }

    private static final Map<String, Bench> BENCHES = new LinkedHashMap<>();

    static {
        BENCHES.put("SasSigningBench", SasSigningBench::run);
        BENCHES.put("LatestLookupBench", IndexBench::latest);
        BENCHES.put("CommitBench", IndexBench::commit);
        BENCHES.put("BatchDeleteBench", BatchDeleteBench::run);
        BENCHES.put("AccessBench", AccessBench::run);
        BENCHES.put("PythonClientBench", PythonClientBench::run);
        BENCHES.put("ScaleBench", ScaleBench::run);
    }

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        // Before any JDK HTTP client exists: Node (Azurite, and the local host's clients of it)
        // closes idle kept-alive connections after 5 s, so the client drops them first.
        System.setProperty("jdk.httpclient.keepalive.timeout", "3");
        Rounds rounds = new Rounds(Integer.getInteger("bench.warmup", 5), Integer.getInteger("bench.rounds", 15));
        List<String> names = args.length == 0 ? List.copyOf(BENCHES.keySet()) : List.of(args);
        for (String name : names) {
            if (!BENCHES.containsKey(name)) {
                throw new IllegalArgumentException("no benchmark '" + name + "'; known: " + BENCHES.keySet());
            }
        }
        Path dir = Path.of(System.getProperty("ckptvault.projectDir", System.getProperty("user.dir")), "target", "bench");
        List<String> done = new java.util.ArrayList<>();
        for (String name : names) {
            System.out.println("== " + name + " (" + rounds.warmup() + " warm-up, " + rounds.timed() + " timed rounds)");
            BENCHES.get(name).run(rounds);
            done.add(name);
            // After each benchmark: a later one that fails or is stopped keeps what was measured.
            Summary.write(dir, done, rounds, done.size() == names.size());
        }
        // Pools of the app instances the benchmarks built are not daemon threads: end here.
        System.exit(0);
    }
}
