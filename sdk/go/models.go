package hakgal

import "encoding/json"

// Fact is one fact: Pred(arg1, ...) with its metadata.
type Fact struct {
	ID         int64                  `json:"id"`
	Statement  string                 `json:"statement"`
	Predicate  string                 `json:"predicate"`
	Args       []string               `json:"args"`
	Confidence float64                `json:"confidence"`
	Source     *string                `json:"source"`
	Tags       []string               `json:"tags"`
	Context    map[string]interface{} `json:"context"`
	Created    string                 `json:"created"` // RFC 3339, UTC
	Updated    string                 `json:"updated"`
}

// NewFact is a fact to add: Statement, or Predicate with Args. The
// metadata fields are optional (nil: not sent).
type NewFact struct {
	Statement  string                 `json:"statement,omitempty"`
	Predicate  string                 `json:"predicate,omitempty"`
	Args       []string               `json:"args,omitempty"`
	Confidence *float64               `json:"confidence,omitempty"`
	Source     *string                `json:"source,omitempty"`
	Tags       []string               `json:"tags,omitempty"`
	Context    map[string]interface{} `json:"context,omitempty"`
}

// Change is an update of a fact: with Statement a replacement (PUT), else
// a change of the metadata given (PATCH).
type Change struct {
	Statement  string                 `json:"statement,omitempty"`
	Confidence *float64               `json:"confidence,omitempty"`
	Source     *string                `json:"source,omitempty"`
	Tags       []string               `json:"tags,omitempty"`
	Context    map[string]interface{} `json:"context,omitempty"`
}

// AddResult is the answer of Add: Created is false when the fact was
// already there (adds are idempotent).
type AddResult struct {
	Fact    Fact
	Created bool
}

// ErrorBody is the error object of an answer.
type ErrorBody struct {
	Code    string                 `json:"code"`
	Message string                 `json:"message"`
	Detail  map[string]interface{} `json:"detail"`
}

// BatchItemResult is the result of one batch item: Status 201/200 with
// ID, or an Error.
type BatchItemResult struct {
	Index   int        `json:"index"`
	Status  int        `json:"status"`
	ID      int64      `json:"id"`
	Created bool       `json:"created"`
	Error   *ErrorBody `json:"error"`
}

// BatchResult is the answer of Batch.
type BatchResult struct {
	Count    int               `json:"count"`
	Created  int               `json:"created"`
	Existing int               `json:"existing"`
	Failed   int               `json:"failed"`
	Results  []BatchItemResult `json:"results"`
}

// QueryPage is one page of a pattern query: Facts[i] matched with
// Bindings[i].
type QueryPage struct {
	Query      string              `json:"query"`
	Facts      []Fact              `json:"facts"`
	Bindings   []map[string]string `json:"bindings"`
	Count      int                 `json:"count"`
	NextCursor *string             `json:"next_cursor"`
}

// Row is a row of a multi-pattern query: the variables' values and the
// ids of the facts that matched each pattern.
type Row struct {
	Bindings map[string]json.RawMessage `json:"bindings"`
	Facts    []int64                    `json:"facts"`
}

// Binding returns a variable's value as a string ("" when unbound).
func (r Row) Binding(name string) string {
	raw, ok := r.Bindings[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// RowPage is one page of a multi-pattern query.
type RowPage struct {
	Query      string  `json:"query"`
	Rows       []Row   `json:"rows"`
	Count      int     `json:"count"`
	NextCursor *string `json:"next_cursor"`
}

// SearchHit is one search result.
type SearchHit struct {
	Score float64 `json:"score"`
	Fact  Fact    `json:"fact"`
}

// EntityPage is an entity, its total fact count and a page of its facts.
type EntityPage struct {
	Entity     string  `json:"entity"`
	FactCount  int64   `json:"fact_count"`
	Facts      []Fact  `json:"facts"`
	NextCursor *string `json:"next_cursor"`
}

// Node is a node of a neighbourhood: an entity, or a fact of arity > 2.
type Node struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"` // "entity" or "fact"
	Label string `json:"label"`
}

// Edge links two nodes through a fact.
type Edge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label"`
	Fact  int64  `json:"fact"`
}

// Subgraph is the answer of Neighbours.
type Subgraph struct {
	Nodes     []Node `json:"nodes"`
	Edges     []Edge `json:"edges"`
	Truncated bool   `json:"truncated"`
}

// Path is one path between two entities: its nodes and the facts linking
// them.
type Path struct {
	Length int      `json:"length"`
	Nodes  []string `json:"nodes"`
	Facts  []int64  `json:"facts"`
}

// AuditEntry is one entry of the audit log.
type AuditEntry struct {
	Seq        int64           `json:"seq"`
	Time       string          `json:"time"`
	Actor      string          `json:"actor"`
	Op         string          `json:"op"` // add, update, meta, delete, import
	FactID     *int64          `json:"fact_id"`
	FactIDLast *int64          `json:"fact_id_last"`
	Count      int64           `json:"count"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// AuditPage is one page of the audit log, newest first.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	Count      int          `json:"count"`
	NextBefore *int64       `json:"next_before"`
}
