package schemas

import "testing"

// TestPlanOfRecursiveUnionsIsShared: two recursive records, each a union
// of both, against a table 16 levels deep. Resolving each branch afresh
// made 2^16 copies of the deepest ops; shared, the plan has an op or two
// per (writer type, table node).
func TestPlanOfRecursiveUnionsIsShared(t *testing.T) {
	const depth = 16
	typ := "int64"
	for range depth {
		typ = "struct<a?:" + typ + ">"
	}
	user, err := SchemaFromSpecs([]FieldSpec{{Name: "a", Type: typ}})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := NewTableSchema(user, TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := ParseAvroSchema(`{"type":"record","name":"R","fields":[{"name":"a","type":["null","R",
		{"type":"record","name":"S","fields":[{"name":"a","type":["null","R","S"]}]}]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	plan := compilePlan(w, ts)
	if plan.err != nil {
		t.Fatal(plan.err)
	}
	seen := map[*avroOp]bool{}
	var walk func(op *avroOp)
	walk = func(op *avroOp) {
		if op == nil || seen[op] {
			return
		}
		seen[op] = true
		for _, o := range op.fields {
			walk(o)
		}
		for _, o := range op.branches {
			walk(o)
		}
		walk(op.items)
	}
	walk(plan.root)
	// Per table level: the union, R, S, their unions' null branches and
	// the like; nothing that doubles per level.
	if n := len(seen); n > 20*(depth+2) {
		t.Errorf("plan of %d distinct ops for a table %d deep: not shared", n, depth)
	}
}
