package dev.ckptvault.functions;

import com.microsoft.azure.functions.ExecutionContext;
import com.microsoft.azure.functions.annotation.FunctionName;
import com.microsoft.azure.functions.annotation.TimerTrigger;
import dev.ckptvault.lifecycle.Sweeper;

/** The timer sweep ({@code %CKPT_SWEEP_SCHEDULE%}): re-checks open checkpoints, applies retention, sends owed events. */
public class SweepFunction {
    private final Sweeper sweeper;

    public SweepFunction(Sweeper sweeper) {
        this.sweeper = sweeper;
    }

    @FunctionName("Sweep")
    public void run(@TimerTrigger(name = "timer", schedule = "%CKPT_SWEEP_SCHEDULE%") String timerInfo,
                    ExecutionContext context) {
        Sweeper.Report report = sweeper.sweep();
        context.getLogger().info("sweep done: " + report);
    }
}
