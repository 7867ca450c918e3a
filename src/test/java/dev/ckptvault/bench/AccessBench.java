package dev.ckptvault.bench;

import dev.ckptvault.access.RunAccess;
import dev.ckptvault.access.Scope;
import dev.ckptvault.events.OutgoingEventPublisher;
import dev.ckptvault.layout.RunId;
import dev.ckptvault.local.AzuriteProcess;
import dev.ckptvault.testing.AzuriteExtension;
import dev.ckptvault.testing.MutableClock;
import dev.ckptvault.testing.TestApp;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;

/**
 * What run-token checks cost per request, against an in-memory Azurite: verifying a token
 * (decode, HMAC-SHA256, expiry; the key ring cached), a whole authorize call with the revocation
 * marker cached, and the revocation check cached and uncached (one blob read: a run never revoked
 * answers 404, a revoked run's marker is downloaded). Medians over many single calls.
 */
final class AccessBench {
    private AccessBench() {
    }

    static void run(BenchMain.Rounds rounds) throws Exception {
        int fast = Integer.getInteger("bench.access.calls", 200_000);
        int slow = Integer.getInteger("bench.access.storageCalls", 500);
        try (AzuriteProcess azurite = AzuriteProcess.start(AzuriteExtension.projectDir(), null, 0, 0)) {
            MutableClock clock = new MutableClock(Instant.now());
            TestApp app = AzuriteExtension.app(azurite.connectionString(), Map.of(), clock, OutgoingEventPublisher.DISABLED);
            RunAccess access = app.access;
            String token = access.issue(new RunId("bench-run"), Scope.WRITE, Duration.ofHours(1)).token();
            Map<String, String> headers = Map.of("authorization", "Bearer " + token);
            access.authorize(headers, "bench-run", Scope.WRITE);
            RunId revoked = new RunId("bench-revoked");
            access.revoke(revoked);
            System.out.println("token: " + token.length() + " characters");

            long[] verify = new long[fast];
            long[] authorize = new long[fast];
            long[] cached = new long[fast];
            for (int pass = 0; pass < 2; pass++) { // the first pass warms up the JIT and is discarded
                for (int i = 0; i < fast; i++) {
                    long t = System.nanoTime();
                    access.verify(token);
                    verify[i] = System.nanoTime() - t;
                    t = System.nanoTime();
                    access.authorize(headers, "bench-run", Scope.WRITE);
                    authorize[i] = System.nanoTime() - t;
                    t = System.nanoTime();
                    app.revocations.notBefore(revoked);
                    cached[i] = System.nanoTime() - t;
                }
            }
            long[] missing = new long[slow];
            long[] present = new long[slow];
            for (int pass = 0; pass < 2; pass++) {
                for (int i = 0; i < slow; i++) {
                    RunId fresh = new RunId("bench-never-revoked-" + pass + "-" + i);
                    long t = System.nanoTime();
                    app.revocations.notBefore(fresh);
                    missing[i] = System.nanoTime() - t;
                    clock.advance(Duration.ofSeconds(31)); // past the 30 s cache: the marker is read again
                    t = System.nanoTime();
                    app.revocations.notBefore(revoked);
                    present[i] = System.nanoTime() - t;
                }
            }
            String header = String.format(Locale.ROOT, "%-52s  %9s  %10s  %10s  %10s", "variant", "calls",
                    "median us", "p90 us", "p99 us");
            System.out.println(header);
            System.out.println("-".repeat(header.length()));
            row("verify (decode + HMAC-SHA256 + expiry)", verify);
            row("authorize (verify + run/scope + cached revocation)", authorize);
            row("revocation check, cached", cached);
            row("revocation check, uncached, run never revoked (404)", missing);
            row("revocation check, uncached, marker present", present);
            long[] v = verify.clone();
            java.util.Arrays.sort(v);
            long[] m = missing.clone();
            java.util.Arrays.sort(m);
            double verifyUs = Timings.percentile(v, 50) / 1e3;
            double uncachedUs = Timings.percentile(m, 50) / 1e3;
            Summary.put("token_verify_us", verifyUs);
            Summary.put("revocation_check_uncached_us", uncachedUs);
            Summary.row("run token verification (decode, HMAC-SHA256, expiry)", "token_verify_us",
                    String.format(Locale.ROOT, "%.2f us", verifyUs), String.format(Locale.ROOT,
                            "one blob read (uncached revocation check) %.0f us", uncachedUs),
                    String.format(Locale.ROOT, "%.4fx", verifyUs / uncachedUs), null, null);
            app.close();
        }
    }

    private static void row(String name, long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        System.out.println(String.format(Locale.ROOT, "%-52s  %9d  %10.2f  %10.2f  %10.2f", name, s.length,
                Timings.percentile(s, 50) / 1e3, Timings.percentile(s, 90) / 1e3, Timings.percentile(s, 99) / 1e3));
    }
}
