package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** One page of a multi-pattern query. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record RowPage(
    String query, List<Row> rows, int count, @JsonProperty("next_cursor") String nextCursor) {

  /** A row: the variables' values and the ids of the facts each pattern matched. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Row(JsonNode bindings, List<Long> facts) {
    /** A variable's value as text (null when unbound). */
    public String binding(String name) {
      JsonNode v = bindings == null ? null : bindings.get(name);
      return v == null ? null : v.asText();
    }
  }
}
