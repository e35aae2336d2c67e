package hakgal.client;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * A client of the hakgal knowledge-base REST API (/v2) over {@code
 * java.net.http}, with Jackson for JSON. Thread-safe.
 *
 * <p>Retries: an answer 503 or 429 is retried up to {@code maxRetries} times
 * after the answer's Retry-After (seconds, capped at {@code maxBackoff}) or
 * else {@code backoff * 2^attempt} with up to 50% jitter. Every write of the
 * API is idempotent, so writes are retried too. Timeouts and network errors
 * are not retried (the request may have reached the server).
 *
 * <pre>{@code
 * HakgalClient kb = HakgalClient.builder("http://127.0.0.1:8080").token(t).build();
 * Fact f = kb.add("HasPart(Computer, CPU)").fact();
 * for (Fact x : kb.queryAll("HasPart(?x, ?y)", 500)) { ... }
 * }</pre>
 */
public final class HakgalClient {
  private static final ObjectMapper JSON =
      new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

  private final String baseUrl;
  private final String token;
  private final Duration timeout;
  private final int maxRetries;
  private final Duration backoff;
  private final Duration maxBackoff;
  private final HttpClient http;

  private HakgalClient(Builder b) {
    this.baseUrl = b.baseUrl.replaceAll("/+$", "");
    this.token = b.token;
    this.timeout = b.timeout;
    this.maxRetries = b.maxRetries;
    this.backoff = b.backoff;
    this.maxBackoff = b.maxBackoff;
    this.http = HttpClient.newBuilder().connectTimeout(b.timeout).build();
  }

  public static Builder builder(String baseUrl) {
    return new Builder(baseUrl);
  }

  /** Settings of a client; defaults: no token, 30 s timeout, 3 retries. */
  public static final class Builder {
    private final String baseUrl;
    private String token;
    private Duration timeout = Duration.ofSeconds(30);
    private int maxRetries = 3;
    private Duration backoff = Duration.ofMillis(100);
    private Duration maxBackoff = Duration.ofSeconds(30);

    private Builder(String baseUrl) {
      this.baseUrl = baseUrl;
    }

    /** Sent as {@code Authorization: Bearer TOKEN}. */
    public Builder token(String t) {
      this.token = t;
      return this;
    }

    /** Per attempt. */
    public Builder timeout(Duration d) {
      this.timeout = d;
      return this;
    }

    public Builder maxRetries(int n) {
      this.maxRetries = n;
      return this;
    }

    public Builder backoff(Duration first, Duration max) {
      this.backoff = first;
      this.maxBackoff = max;
      return this;
    }

    public HakgalClient build() {
      return new HakgalClient(this);
    }
  }

  // ==== transport ====

  /** The status and decoded JSON of a successful answer. */
  public record Answer(int status, JsonNode body) {}

  /**
   * One API call with retries. Throws HakgalException for an error answer
   * or when no answer came.
   */
  public Answer request(String method, String path, Map<String, Object> params, Object body) {
    StringBuilder url = new StringBuilder(baseUrl).append(path);
    if (params != null) {
      char sep = '?';
      for (Map.Entry<String, Object> e : params.entrySet()) {
        if (e.getValue() == null) continue;
        url.append(sep).append(enc(e.getKey())).append('=').append(enc(e.getValue().toString()));
        sep = '&';
      }
    }
    HttpRequest.Builder rb =
        HttpRequest.newBuilder(URI.create(url.toString()))
            .timeout(timeout)
            .header("Accept", "application/json");
    if (token != null && !token.isEmpty()) rb.header("Authorization", "Bearer " + token);
    if (body != null) {
      try {
        rb.header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
      } catch (IOException e) {
        throw new HakgalException(0, "invalid_input", e.getMessage(), null);
      }
    } else {
      rb.method(method, HttpRequest.BodyPublishers.noBody());
    }
    HttpRequest req = rb.build();
    for (int attempt = 0; ; attempt++) {
      HttpResponse<byte[]> res;
      try {
        res = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
      } catch (HttpTimeoutException e) {
        throw new HakgalException(
            0, "timeout", method + " " + path + ": no answer within " + timeout, null);
      } catch (IOException e) {
        throw new HakgalException(0, "connection", method + " " + path + ": " + e, null);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new HakgalException(0, "interrupted", method + " " + path, null);
      }
      int st = res.statusCode();
      if (st >= 200 && st < 300) {
        try {
          byte[] b = res.body();
          return new Answer(st, b.length == 0 ? null : JSON.readTree(b));
        } catch (IOException e) {
          throw new HakgalException(
              0, "invalid_answer", method + " " + path + ": answer is not JSON", null);
        }
      }
      if ((st == 503 || st == 429) && attempt < maxRetries) {
        sleep(waitFor(attempt, res.headers().firstValue("Retry-After").orElse(null)));
        continue;
      }
      throw apiError(st, res.body(), method, path);
    }
  }

  private long waitFor(int attempt, String retryAfter) {
    long max = maxBackoff.toMillis();
    if (retryAfter != null) {
      try {
        double s = Double.parseDouble(retryAfter.trim());
        if (s >= 0) return Math.min((long) (s * 1000), max);
      } catch (NumberFormatException e) {
        // an HTTP date: fall back to the backoff
      }
    }
    long b = Math.min(backoff.toMillis() << Math.min(attempt, 20), max);
    return b + ThreadLocalRandom.current().nextLong(b / 2 + 1);
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new HakgalException(0, "interrupted", "interrupted while waiting to retry", null);
    }
  }

  private static HakgalException apiError(int status, byte[] body, String method, String path) {
    try {
      JsonNode e = JSON.readTree(body).get("error");
      if (e != null && e.hasNonNull("code")) {
        JsonNode d = e.get("detail");
        return new HakgalException(
            status,
            e.get("code").asText(),
            e.path("message").asText(""),
            d == null || d.isNull() ? null : d);
      }
    } catch (IOException | RuntimeException ignored) {
      // not JSON: described below
    }
    String text = new String(body, StandardCharsets.UTF_8);
    if (text.length() > 200) text = text.substring(0, 200);
    return new HakgalException(status, "http_" + status, method + " " + path + ": " + text, null);
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  private static <T> T as(JsonNode n, Class<T> type) {
    try {
      return JSON.treeToValue(n, type);
    } catch (IOException e) {
      throw new HakgalException(0, "invalid_answer", e.getMessage(), null);
    }
  }

  private static <T> T as(JsonNode n, TypeReference<T> type) {
    try {
      return JSON.treeToValue(n, JSON.getTypeFactory().constructType(type));
    } catch (IOException e) {
      throw new HakgalException(0, "invalid_answer", e.getMessage(), null);
    }
  }

  private static Map<String, Object> params(Object... kv) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i + 1 < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
    return m;
  }

  // ==== facts ====

  /** Adds a fact given as a statement; idempotent. */
  public AddResult add(String statement) {
    return add(NewFact.of(statement));
  }

  /** Adds a fact with metadata; idempotent. */
  public AddResult add(NewFact fact) {
    Answer a = request("POST", "/v2/facts", null, fact);
    return new AddResult(as(a.body(), Fact.class), a.status() == 201);
  }

  /**
   * Adds many facts in one transaction; items are statements (String) or
   * NewFact values. Invalid items are reported, the others committed.
   */
  public BatchResult batch(List<?> items) {
    return as(request("POST", "/v2/facts/batch", null, items).body(), BatchResult.class);
  }

  public Fact get(long id) {
    return as(request("GET", "/v2/facts/" + id, null, null).body(), Fact.class);
  }

  /**
   * With a statement: replaces it (PUT; code "conflict" when it is another
   * fact). Without: changes only the metadata given (PATCH).
   */
  public Fact update(long id, NewFact change) {
    String method = change.statement() != null ? "PUT" : "PATCH";
    return as(request(method, "/v2/facts/" + id, null, change).body(), Fact.class);
  }

  /** Deletes a fact; returns it as it was. */
  public Fact delete(long id) {
    return as(request("DELETE", "/v2/facts/" + id, null, null).body().get("fact"), Fact.class);
  }

  public Fact deleteStatement(String statement) {
    JsonNode b = request("DELETE", "/v2/facts", params("statement", statement), null).body();
    return as(b.get("fact"), Fact.class);
  }

  // ==== reads ====

  /** One page of a pattern query; limit null: the server's default. */
  public QueryPage query(String pattern, Integer limit, String cursor) {
    return as(
        request("GET", "/v2/query", params("q", pattern, "limit", limit, "cursor", cursor), null)
            .body(),
        QueryPage.class);
  }

  /** Every fact matching a pattern, fetched page by page as it is iterated. */
  public Iterable<Fact> queryAll(String pattern, Integer pageSize) {
    return () ->
        new Pager<>(
            cur -> {
              QueryPage p = query(pattern, pageSize, cur);
              return new Page<>(p.facts(), p.nextCursor());
            });
  }

  /** One page of a multi-pattern query (docs/QUERY.md). */
  public RowPage queryRows(String query, Integer limit, String cursor) {
    Map<String, Object> body = params("query", query);
    if (limit != null) body.put("limit", limit);
    if (cursor != null) body.put("cursor", cursor);
    return as(request("POST", "/v2/query", null, body).body(), RowPage.class);
  }

  public Iterable<RowPage.Row> queryRowsAll(String query, Integer pageSize) {
    return () ->
        new Pager<>(
            cur -> {
              RowPage p = queryRows(query, pageSize, cur);
              return new Page<>(p.rows(), p.nextCursor());
            });
  }

  /** Ranked search; mode null (text), "vector" or "hybrid". */
  public List<SearchHit> search(String text, Integer limit, String mode) {
    JsonNode b =
        request("GET", "/v2/search", params("q", text, "limit", limit, "mode", mode), null).body();
    return as(b.get("results"), new TypeReference<List<SearchHit>>() {});
  }

  public EntityPage entity(String name, Integer limit, String cursor) {
    return as(
        request("GET", "/v2/entities/" + enc(name), params("limit", limit, "cursor", cursor), null)
            .body(),
        EntityPage.class);
  }

  public Iterable<Fact> entityFacts(String name, Integer pageSize) {
    return () ->
        new Pager<>(
            cur -> {
              EntityPage p = entity(name, pageSize, cur);
              return new Page<>(p.facts(), p.nextCursor());
            });
  }

  /** The neighbourhood of an entity up to depth hops (null: 1). */
  public Subgraph neighbours(String entity, Integer depth) {
    return as(
        request("GET", "/v2/graph/neighbours", params("entity", entity, "depth", depth), null)
            .body(),
        Subgraph.class);
  }

  /** Up to k shortest paths of at most maxLen edges (null: the server's defaults). */
  public List<Path> paths(String from, String to, Integer maxLen, Integer k) {
    JsonNode b =
        request(
                "GET",
                "/v2/graph/path",
                params("from", from, "to", to, "max_len", maxLen, "k", k),
                null)
            .body();
    return as(b.get("paths"), new TypeReference<List<Path>>() {});
  }

  /** One page of the audit log, newest first (before null: from the newest). */
  public AuditPage audit(Integer limit, Long before) {
    return as(
        request("GET", "/v2/audit", params("limit", limit, "before", before), null).body(),
        AuditPage.class);
  }

  public Iterable<AuditEntry> auditAll(Integer pageSize) {
    return () ->
        new Pager<>(
            cur -> {
              AuditPage p = audit(pageSize, cur == null ? null : Long.valueOf(cur));
              return new Page<>(
                  p.entries(), p.nextBefore() == null ? null : p.nextBefore().toString());
            });
  }

  public JsonNode stats() {
    return request("GET", "/v2/stats", null, null).body();
  }

  // ==== pagination ====

  private record Page<T>(List<T> items, String next) {}

  /** Fetches the next page when the current one is used up. */
  private static final class Pager<T> implements Iterator<T> {
    private final Function<String, Page<T>> fetch;
    private List<T> buf = new ArrayList<>();
    private int pos;
    private String cursor;
    private boolean done;

    Pager(Function<String, Page<T>> fetch) {
      this.fetch = fetch;
    }

    @Override
    public boolean hasNext() {
      while (pos >= buf.size()) {
        if (done) return false;
        Page<T> p = fetch.apply(cursor);
        buf = p.items() == null ? List.of() : p.items();
        pos = 0;
        cursor = p.next();
        done = cursor == null || cursor.isEmpty();
      }
      return true;
    }

    @Override
    public T next() {
      if (!hasNext()) throw new NoSuchElementException();
      return buf.get(pos++);
    }
  }
}
