package hakgal.client;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An error answer of the server (HTTP status, the server's code, message and
 * detail), or with status 0 a request that got no answer: code "timeout",
 * "connection", "interrupted" or "invalid_answer".
 */
public class HakgalException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final int status;
  private final String code;
  private final transient JsonNode detail;

  public HakgalException(int status, String code, String message, JsonNode detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail;
  }

  /** HTTP status; 0 when no answer came. */
  public int status() {
    return status;
  }

  /** The server's error code, e.g. "not_found", "invalid_statement". */
  public String code() {
    return code;
  }

  /** The server's detail object (e.g. column, field), or null. */
  public JsonNode detail() {
    return detail;
  }

  @Override
  public String toString() {
    return "HakgalException: " + code + " (" + status + "): " + getMessage();
  }
}
