package dev.ckptvault.wiring;

import com.microsoft.azure.functions.spi.inject.FunctionInstanceInjector;

/**
 * Registered through META-INF/services so the Java worker asks the composition root for function
 * instances instead of calling a no-argument constructor.
 */
public class CkptFunctionInstanceInjector implements FunctionInstanceInjector {
    @Override
    public <T> T getInstance(Class<T> functionClass) {
        return AppContext.instance().function(functionClass);
    }
}
