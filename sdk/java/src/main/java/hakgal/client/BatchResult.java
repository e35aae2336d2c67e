package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/** The answer of a batch: counts and one result per item. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record BatchResult(
    int count, int created, int existing, int failed, List<Item> results) {

  /** One item: status 201/200 with the id, or an error. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Item(int index, int status, Long id, boolean created, ErrorBody error) {}
}
