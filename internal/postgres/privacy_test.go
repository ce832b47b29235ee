package postgres_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bookingplatform/booking/internal/booking"
	"github.com/bookingplatform/booking/internal/pgtest"
)

// withCustomer adds what Stripe sends about a customer to an event's
// data.object.
func withCustomer(t *testing.T, payload []byte, key string, v any) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		t.Fatal(err)
	}
	doc["data"].(map[string]any)["object"].(map[string]any)[key] = v
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCustomerErasure(t *testing.T) {
	t.Parallel()
	const email = "Ann.Smith@Example.com"
	ctx := context.Background()
	mb := newMoneyBundle(t, nil)
	details := map[string]any{"email": "ann.smith@example.com", "name": "Ann Smith", "phone": "+33 6 12 34 56 78",
		"address": map[string]any{"line1": "1 Rue Secrète", "city": "Paris", "country": "FR"}}
	pay := func(pi string) *booking.Booking {
		b := pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{HoldUntil: mb.now.Add(30 * time.Minute), Email: email})
		p := withCustomer(t, paidSessionPayload("evt_pay_"+pi, b, pi, b.AmountTotal), "customer_details", details)
		p = withCustomer(t, p, "customer_email", "ann.smith@example.com")
		if res := mb.handle(t, p); res.Status != booking.StatusConfirmed {
			t.Fatalf("pay: %+v", res)
		}
		return b
	}
	paid := pay("pi_paid")
	refunded := pay("pi_ref")
	list := []map[string]any{{"id": "re_1", "amount": refunded.AmountTotal, "currency": "eur", "status": "succeeded"}}
	mb.handle(t, withCustomer(t, chargeRefundedPayload("evt_ref", "ch_ref", "pi_ref", refunded.AmountTotal,
		refunded.AmountTotal, list), "billing_details", map[string]any{"name": "Ann Smith", "email": "ann.smith@example.com"}))
	disputed := pay("pi_dp")
	mb.handle(t, withCustomer(t, disputePayload("evt_dp", booking.EventDisputeCreated, "dp_1", "pi_dp", disputed.AmountTotal,
		"needs_response"), "evidence", map[string]any{"customer_name": "Ann Smith", "customer_email_address": "ann.smith@example.com",
		"billing_address": "1 Rue Secrète", "product_description": "Court"}))
	other := pgtest.CreateBooking(t, mb.db, mb.res, pgtest.BookingOpts{Email: "bob@example.com", Status: booking.StatusConfirmed, PaymentIntent: "pi_bob"})
	for _, b := range []*booking.Booking{paid, refunded, disputed, other} {
		if _, err := mb.db.Pool.Exec(ctx, `INSERT INTO messages (booking_id, kind, version, recipient, subject, message_id)
			SELECT id, 'confirmation', 1, customer_email, 'Your booking', 'm-' || id FROM bookings WHERE id = $1`, b.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := mb.db.Pool.Exec(ctx, `INSERT INTO manage_tokens (token_hash, booking_id) VALUES (sha256(convert_to($1, 'UTF8')), $1::uuid)`, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	mb.check(t)
	before := moneyFigures(t, mb)

	priv := &booking.Privacy{Store: mb.db, Now: func() time.Time { return mb.now }}
	admin, err := mb.db.CreateStaff(ctx, booking.NewStaff{Email: "admin@example.com", Role: booking.RoleAdmin, PasswordHash: "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mb.db.AddNote(ctx, paid.ID, admin.ID, "Ann Smith: allergic to latex, call +33 6 12 34 56 78"); err != nil {
		t.Fatal(err)
	}

	t.Run("export holds everything about the address, in any case", func(t *testing.T) {
		d, err := priv.Export(ctx, "ann.smith@EXAMPLE.com")
		if err != nil {
			t.Fatal(err)
		}
		for name, sec := range map[string]json.RawMessage{"bookings": d.Bookings, "payments": d.Payments, "refunds": d.Refunds,
			"disputes": d.Disputes, "messages": d.Messages, "audit": d.Audit, "ledger": d.Ledger, "notes": d.Notes} {
			var rows []map[string]any
			if err := json.Unmarshal(sec, &rows); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(rows) == 0 {
				t.Errorf("%s: empty", name)
			}
		}
		var bs []map[string]any
		_ = json.Unmarshal(d.Bookings, &bs)
		if len(bs) != 3 || strings.Contains(string(d.Bookings), "customer_token_hash") {
			t.Errorf("bookings: %d rows, or the token hash: %s", len(bs), d.Bookings)
		}
		if strings.Contains(string(d.Bookings), "bob@") {
			t.Error("export holds another customer's booking")
		}
	})

	var first *booking.Erasure
	t.Run("erasure replaces the customer everywhere and the books still balance", func(t *testing.T) {
		e, err := priv.Erase(ctx, "  ann.smith@example.COM ", admin)
		if err != nil {
			t.Fatal(err)
		}
		first = e
		if e.Bookings != 3 || e.Messages != 3 || e.Tokens != 3 || e.Events < 4 || e.Tombstone != booking.Tombstone(email) {
			t.Fatalf("erasure: %+v", e)
		}
		for _, b := range []*booking.Booking{paid, refunded, disputed} {
			got := mb.booking(t, b.ID)
			if got.Customer.Email != e.Tombstone || got.Customer.FirstName != booking.ErasedName || got.Customer.LastName != booking.ErasedName {
				t.Errorf("booking %s: %+v", b.ID, got.Customer)
			}
		}
		for _, q := range []string{
			`SELECT count(*) FROM bookings WHERE lower(customer_email) = 'ann.smith@example.com' OR customer_last_name = 'Customer' AND id <> $1`,
			`SELECT count(*) FROM messages WHERE recipient ILIKE '%ann.smith%' AND $1 <> ''`,
			`SELECT count(*) FROM booking_notes WHERE (body ILIKE '%ann%' OR body LIKE '%+33%') AND $1 <> ''`,
			`SELECT count(*) FROM webhook_events WHERE (convert_from(payload, 'UTF8') ILIKE '%ann%' OR convert_from(payload, 'UTF8') ILIKE '%secrète%'
				OR convert_from(payload, 'UTF8') LIKE '%+33%') AND $1 <> ''`,
			`SELECT count(*) FROM manage_tokens WHERE booking_id <> $1`,
		} {
			if n := pgtest.Count(t, mb.db, q, other.ID); n != 0 {
				t.Errorf("%s: %d rows left", q, n)
			}
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM messages WHERE recipient = 'bob@example.com'`); n != 1 {
			t.Errorf("another customer's message changed")
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM customer_erasures WHERE staff_id = $1 AND bookings = 3`, admin.ID); n != 1 {
			t.Errorf("erasure records: %d", n)
		}
		// Ids, amounts and types stay in the ledger; the payload still parses.
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM webhook_events WHERE stripe_event_id = 'evt_pay_pi_paid'
			AND convert_from(payload, 'UTF8')::jsonb #>> '{data,object,amount_total}' = $1
			AND convert_from(payload, 'UTF8')::jsonb #>> '{data,object,client_reference_id}' = $2`,
			strconv.FormatInt(paid.AmountTotal, 10), paid.ID); n != 1 {
			t.Errorf("paid event lost its amount or id")
		}
		if after := moneyFigures(t, mb); !mapsEqual(before, after) {
			t.Errorf("money changed: %v → %v", before, after)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM booking_audit WHERE booking_id = ANY($1::uuid[])`,
			[]string{paid.ID, refunded.ID, disputed.ID}); n < 6 {
			t.Errorf("audit rows: %d", n)
		}
		mb.check(t)
	})

	t.Run("erasing again changes nothing", func(t *testing.T) {
		e, err := priv.Erase(ctx, email, admin)
		if err != nil {
			t.Fatal(err)
		}
		if e.Bookings != 0 || e.Messages != 0 || e.Tokens != 0 || e.Events != 0 || first == nil || e.Tombstone != first.Tombstone {
			t.Fatalf("second erasure: %+v", e)
		}
		d, err := priv.Export(ctx, email)
		if err != nil {
			t.Fatal(err)
		}
		if string(d.Bookings) != "[]" || string(d.Messages) != "[]" {
			t.Errorf("export after erasure: %s %s", d.Bookings, d.Messages)
		}
		var er []map[string]any
		if err := json.Unmarshal(d.Erasures, &er); err != nil || len(er) != 2 {
			t.Errorf("erasures in the export: %s", d.Erasures)
		}
		mb.check(t)
	})

	t.Run("not an address", func(t *testing.T) {
		if _, err := priv.Erase(ctx, "nobody", admin); booking.ErrorCode(err) != booking.EValidation {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("retention erases ended bookings only", func(t *testing.T) {
		// At bob's start his booking has not ended.
		priv.Now = func() time.Time { return other.StartsAt }
		e, err := priv.EraseEnded(ctx, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if e.Bookings != 0 {
			t.Fatalf("erased %d bookings that have not ended", e.Bookings)
		}
		priv.Now = func() time.Time { return other.EndsAt.Add(48 * time.Hour) }
		e, err = priv.EraseEnded(ctx, 24*time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		if e.Bookings != 1 || mb.booking(t, other.ID).Customer.Email != booking.Tombstone("bob@example.com") {
			t.Fatalf("retention: %+v", e)
		}
		if n := pgtest.Count(t, mb.db, `SELECT count(*) FROM customer_erasures WHERE cause = 'retention' AND staff_id IS NULL`); n != 1 {
			t.Errorf("retention records: %d", n)
		}
		mb.check(t)
	})
}

func TestTombstoneMatchesSQL(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	var got string
	if err := db.Pool.QueryRow(context.Background(),
		`SELECT 'erased-' || left(encode(sha256(convert_to(lower($1), 'UTF8')), 'hex'), 12) || '@invalid'`,
		"Zoë.X@Example.com").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if want := booking.Tombstone("Zoë.X@Example.com"); got != want || !booking.IsErased(got) {
		t.Fatalf("SQL %s, Go %s", got, want)
	}
}

// moneyFigures is each booking's amounts and status.
func moneyFigures(t *testing.T, mb *moneyBundle) map[string]string {
	t.Helper()
	rows, err := mb.db.Pool.Query(context.Background(), `SELECT id::text, status || ' ' || amount_total || ' ' || amount_paid || ' ' ||
		amount_refunded || ' ' || amount_withdrawn || ' ' || holds_slot FROM bookings`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		out[id] = v
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
