package hakgal.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;

/** The error object of an answer: {@code {"code", "message", "detail"}}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ErrorBody(String code, String message, JsonNode detail) {}
