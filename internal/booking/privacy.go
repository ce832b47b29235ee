package booking

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// ErasedName replaces a customer's first and last names on erasure.
const ErasedName = "erased"

// Tombstone is the address that replaces email on erasure:
// "erased-<first 12 hex digits of the SHA-256 of the lower-case
// address>@invalid". The same address always gives the same tombstone, so
// staff who are given an address again can tell that it was erased;
// "invalid" is a reserved name (RFC 2606), so nothing is ever sent to it.
// internal/postgres computes the same in SQL.
func Tombstone(email string) string {
	return "erased-" + EmailHash(email)[:12] + "@invalid"
}

// EmailHash is the hex SHA-256 of the trimmed, lower-case address.
func EmailHash(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return hex.EncodeToString(sum[:])
}

// IsErased reports whether email is a tombstone.
func IsErased(email string) bool {
	return strings.HasPrefix(email, "erased-") && strings.HasSuffix(email, "@invalid")
}

// CustomerData is everything held about an address, section by section,
// each a JSON array of the stored rows as stored (column names in
// snake_case); ledger payloads are the Stripe events as JSON.
type CustomerData struct {
	Email      string          `json:"email"`
	ExportedAt time.Time       `json:"exportedAt"`
	Bookings   json.RawMessage `json:"bookings"`
	Payments   json.RawMessage `json:"payments"`
	Refunds    json.RawMessage `json:"refunds"`
	Disputes   json.RawMessage `json:"disputes"`
	Messages   json.RawMessage `json:"messages"`
	Audit      json.RawMessage `json:"audit"`
	Ledger     json.RawMessage `json:"ledger"`
	Erasures   json.RawMessage `json:"erasures"`
	// Notes are what staff wrote on the bookings.
	Notes json.RawMessage `json:"notes"`
}

// Erasure is what an erasure changed.
type Erasure struct {
	Tombstone string `json:"tombstone,omitempty"`
	Bookings  int    `json:"bookings"`
	Messages  int    `json:"messages"`
	Tokens    int    `json:"tokens"`
	Events    int    `json:"events"`
}

// PrivacyStore reads and erases customer data.
type PrivacyStore interface {
	// CustomerData returns the sections of CustomerData for the address
	// (any case).
	CustomerData(ctx context.Context, email string) (*CustomerData, error)
	// EraseCustomer erases the bookings of the address (any case) and the
	// messages sent to it, in one transaction, recorded with by.
	EraseCustomer(ctx context.Context, email string, by *Staff, redact RedactFunc) (*Erasure, error)
	// EraseEnded erases up to limit bookings that ended before before and
	// are not erased yet (nor in review, nor owed a refund), in one
	// transaction that skips rows another replica holds.
	EraseEnded(ctx context.Context, before time.Time, limit int, redact RedactFunc) (*Erasure, error)
}

// RedactFunc is RedactStripePayload, passed to the store.
type RedactFunc func(payload []byte) ([]byte, bool, error)

// Privacy answers the GDPR requests of customers and applies the
// retention period.
type Privacy struct {
	Store PrivacyStore
	Now   func() time.Time
}

// validEmail checks the address of a request: validation_failed when it
// is empty or not an address.
func validEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 254 || !strings.Contains(email, "@") {
		v := ValidationError{}
		v.Add("email", "Must be an email address.")
		return "", v.Err()
	}
	return email, nil
}

// Export returns everything held about email (any case);
// validation_failed when it is not an address.
func (p *Privacy) Export(ctx context.Context, email string) (*CustomerData, error) {
	email, err := validEmail(email)
	if err != nil {
		return nil, err
	}
	d, err := p.Store.CustomerData(ctx, email)
	if err != nil {
		return nil, err
	}
	d.Email, d.ExportedAt = email, p.Now().UTC()
	return d, nil
}

// Erase replaces the names and address of every booking of email (any
// case), the address of the messages sent to it and the personal data of
// the Stripe events of those bookings by tombstones, and removes their
// manage links; amounts, ids and the audit stay. Running it again changes
// nothing. validation_failed when email is not an address.
func (p *Privacy) Erase(ctx context.Context, email string, by *Staff) (*Erasure, error) {
	email, err := validEmail(email)
	if err != nil {
		return nil, err
	}
	if IsErased(email) {
		return &Erasure{Tombstone: email}, nil
	}
	e, err := p.Store.EraseCustomer(ctx, email, by, RedactStripePayload)
	if err != nil {
		return nil, err
	}
	e.Tombstone = Tombstone(email)
	return e, nil
}

// EraseEnded erases the customer data of up to limit bookings that ended
// more than retention ago.
func (p *Privacy) EraseEnded(ctx context.Context, retention time.Duration, limit int) (*Erasure, error) {
	return p.Store.EraseEnded(ctx, p.Now().Add(-retention), limit, RedactStripePayload)
}

// personalKeys are the keys of Stripe objects whose values are personal
// data: replaced wherever they occur in an event.
var personalKeys = map[string]bool{
	"customer_details": true, "customer_email": true, "customer_name": true, "customer_phone": true,
	"customer_address": true, "customer_shipping": true, "billing_details": true, "shipping_details": true,
	"shipping": true, "shipping_address": true, "billing_address": true, "receipt_email": true,
	"email": true, "name": true, "phone": true, "address": true, "customer_email_address": true,
	"customer_purchase_ip": true, "customer_signature": true,
	"cardholder_name": true, "ip_address": true, "first_name": true, "last_name": true,
}

// RedactStripePayload replaces the personal data of a stored Stripe event
// (customer details, addresses, names, phone numbers, billing and
// shipping details, wherever they occur) by ErasedName (text) or null
// (objects), keeping ids,
// amounts, currencies, types and statuses; changed reports whether there
// was any. A payload that is not a JSON object is returned unchanged.
func RedactStripePayload(payload []byte) (out []byte, changed bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return payload, false, nil //nolint:nilerr // not JSON: nothing to redact
	}
	doc, changed = redact(doc)
	if !changed {
		return payload, false, nil
	}
	out, err = json.Marshal(doc)
	if err != nil {
		return nil, false, err
	}
	return out, true, nil
}

func redact(v any) (any, bool) {
	changed := false
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if personalKeys[k] && x != nil {
				// Text becomes ErasedName; an object or list becomes
				// null, which every reader of the event accepts.
				switch s := x.(type) {
				case string:
					if s != ErasedName {
						t[k], changed = ErasedName, true
					}
				default:
					t[k], changed = nil, true
				}
				continue
			}
			if k == "metadata" { // our own keys: the booking id, no personal data
				continue
			}
			nx, c := redact(x)
			t[k], changed = nx, changed || c
		}
	case []any:
		for i, x := range t {
			nx, c := redact(x)
			t[i], changed = nx, changed || c
		}
	}
	return v, changed
}
