package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;

/** One fact: {@code Pred(arg1, ...)} with its metadata. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Fact(
    long id,
    String statement,
    String predicate,
    List<String> args,
    double confidence,
    String source,
    List<String> tags,
    JsonNode context,
    /** RFC 3339, UTC */
    String created,
    String updated) {}
