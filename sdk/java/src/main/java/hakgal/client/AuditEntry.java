package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;

/** One entry of the audit log; op is add, update, meta, delete or import. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record AuditEntry(
    long seq,
    String time,
    String actor,
    String op,
    @JsonProperty("fact_id") Long factId,
    @JsonProperty("fact_id_last") Long factIdLast,
    long count,
    JsonNode before,
    JsonNode after,
    @JsonProperty("prev_hash") String prevHash,
    String hash) {}
