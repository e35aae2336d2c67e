package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** One page of the audit log, newest first. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AuditPage(
    List<AuditEntry> entries, int count, @JsonProperty("next_before") Long nextBefore) {}
