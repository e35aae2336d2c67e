package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** An entity, its total fact count and one page of its facts. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record EntityPage(
    String entity,
    @JsonProperty("fact_count") long factCount,
    List<Fact> facts,
    @JsonProperty("next_cursor") String nextCursor) {}
