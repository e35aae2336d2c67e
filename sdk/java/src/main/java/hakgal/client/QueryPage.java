package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/** One page of a pattern query: facts[i] matched with bindings[i]. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record QueryPage(
    String query,
    List<Fact> facts,
    List<Map<String, String>> bindings,
    int count,
    @JsonProperty("next_cursor") String nextCursor) {}
