package dev.ckptvault.bench;

final class ScaleBench {
    private ScaleBench() {
    }

    static void run(BenchMain.Rounds rounds) {
        throw new UnsupportedOperationException("todo");
    }
}
