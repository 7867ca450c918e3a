package dev.ckptvault.local;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Hands events to an Event Grid function the way the Functions host does with single dispatch:
 * one invocation per event, all of a delivery in parallel, and the delivery fails (so Event Grid
 * would redeliver all of it) when any invocation throws.
 */
public final class EventGridDispatcher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(EventGridDispatcher.class.getName());

    private final FunctionHost host;
    private final ExecutorService pool;

    public EventGridDispatcher(FunctionHost host, int threads) {
        this.host = host;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "eventgrid-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    public FunctionHost host() {
        return host;
    }

    /**
     * Delivers events (each one event's JSON text) to one function.
     *
     * @return null when every invocation succeeded, else the first failure's message
     */
    public String deliver(FunctionHost.EventGridFunction function, List<String> events) {
        List<Future<?>> runs = new ArrayList<>(events.size());
        for (String event : events) {
            runs.add(pool.submit(() -> {
                host.invokeEventGrid(function, event);
                return null;
            }));
        }
        String failure = null;
        for (Future<?> run : runs) {
            try {
                run.get();
            } catch (ExecutionException e) {
                LOG.log(Level.WARNING, "function " + function.name() + " failed on an event; it will be redelivered",
                        e.getCause());
                if (failure == null) {
                    failure = String.valueOf(e.getCause().getMessage());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            }
        }
        return failure;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
