package dev.ckptvault.local;

import com.microsoft.azure.functions.ExecutionContext;
import java.util.UUID;
import java.util.logging.Logger;

/** The invocation context the local host hands to functions: a logger per function, a fresh id per call. */
record LocalExecutionContext(Logger getLogger, String getInvocationId, String getFunctionName)
        implements ExecutionContext {

    static LocalExecutionContext forInvocation(String functionName) {
        return new LocalExecutionContext(Logger.getLogger("Function." + functionName),
                UUID.randomUUID().toString(), functionName);
    }
}
