package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/** A path between two entities: its nodes and the facts linking them. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Path(int length, List<String> nodes, List<Long> facts) {}
