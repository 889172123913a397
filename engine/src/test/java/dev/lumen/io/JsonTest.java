package dev.lumen.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void writesAndParsesBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", "vit \"tiny\"\n");
        m.put("lr", 0.001);
        m.put("epochs", 300L);
        m.put("flags", List.of(true, false));
        m.put("none", null);
        m.put("nested", Map.of("k", List.of(1L, 2L)));
        for (boolean indent : new boolean[] {false, true}) {
            assertEquals(m, Json.parse(Json.write(m, indent)));
        }
    }

    @Test
    void rejectsMalformedInputWithAPosition() {
        var e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\": [1, 2}"));
        assertEquals(true, e.getMessage().contains("offset"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] x"));
    }
}
