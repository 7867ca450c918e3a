package dev.ckptvault.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class LocalMainTest {
    @Test
    void allowHostTakesNamesWithoutPortAndMayBeRepeated() {
        LocalStack.Options o = LocalMain.parse(new String[] {"--allow-host", "devbox", "--allow-host", "[fd00::1]"});
        assertEquals(List.of("devbox", "[fd00::1]"), o.allowedHosts());
        assertEquals(Optional.empty(), o.adminKey(), "no admin key given: the host makes one");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LocalMain.parse(new String[] {"--allow-host", "devbox:7071"}));
        assertTrue(e.getMessage().contains("--allow-host"), e.getMessage());
    }
}
