package hakgal.client;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;

/**
 * A fact to add or a change to make: a statement, or a predicate with its
 * arguments, and optional metadata. Null fields are not sent.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record NewFact(
    String statement,
    String predicate,
    List<String> args,
    Double confidence,
    String source,
    List<String> tags,
    Map<String, Object> context) {

  /** A fact given as a statement, e.g. {@code HasPart(Computer, CPU)}. */
  public static NewFact of(String statement) {
    return new NewFact(statement, null, null, null, null, null, null);
  }

  /** A fact given as a predicate and its arguments. */
  public static NewFact of(String predicate, List<String> args) {
    return new NewFact(null, predicate, args, null, null, null, null);
  }

  public NewFact withConfidence(double c) {
    return new NewFact(statement, predicate, args, c, source, tags, context);
  }

  public NewFact withSource(String s) {
    return new NewFact(statement, predicate, args, confidence, s, tags, context);
  }

  public NewFact withTags(List<String> t) {
    return new NewFact(statement, predicate, args, confidence, source, t, context);
  }

  public NewFact withContext(Map<String, Object> c) {
    return new NewFact(statement, predicate, args, confidence, source, tags, c);
  }
}
