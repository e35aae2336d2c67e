package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

/** One search result. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record SearchHit(double score, Fact fact) {}
