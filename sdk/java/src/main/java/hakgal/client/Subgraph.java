package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/** A neighbourhood: entity (and n-ary fact) nodes and the edges between them. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Subgraph(List<Node> nodes, List<Edge> edges, boolean truncated) {

  /** A node; kind is "entity" or "fact". */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Node(String id, String kind, String label) {}

  /** An edge through a fact. */
  @JsonIgnoreProperties(ignoreUnknown = true)
  public record Edge(String from, String to, String label, Long fact) {}
}
