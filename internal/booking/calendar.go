package booking

import (
	"context"
	"crypto/subtle"
	"time"
)

// Calendar feed period: a feed holds the bookings that start from
// FeedPast ago to FeedAhead from now; cancelled and refunded ones that were
// paid stay in it (as cancelled) as long as they fall in that period, so a
// cancellation stays visible for FeedPast after the slot.
const (
	FeedPast  = 30 * 24 * time.Hour
	FeedAhead = 366 * 24 * time.Hour
)

// FeedBooking is one booking of a calendar feed.
type FeedBooking struct {
	ID        string
	Reference string
	FirstName string
	LastName  string
	StartsAt  time.Time
	EndsAt    time.Time
	Status    Status
	Sequence  int
	UpdatedAt time.Time
}

// Cancelled reports whether the feed shows b as cancelled: it no longer
// takes place.
func (b FeedBooking) Cancelled() bool {
	return b.Status != StatusConfirmed && b.Status != StatusNeedsReview
}

// CalendarStore keeps the feed keys and reads the feeds.
type CalendarStore interface {
	// SetCalendarKey stores the hash of a resource's new feed key,
	// replacing the old one; ENotFound for an unknown resource.
	SetCalendarKey(ctx context.Context, resourceID string, keyHash []byte, by *Staff) error
	// CalendarKeyHash returns the hash of the resource's feed key;
	// ENotFound when it has none.
	CalendarKeyHash(ctx context.Context, resourceID string) ([]byte, error)
	// CalendarFeedResources returns the ids of the resources with a feed.
	CalendarFeedResources(ctx context.Context) (map[string]bool, error)
	// ListFeedBookings returns the resource's bookings that start in
	// [from, to) and are confirmed or in review holding their slot, or
	// were paid and are cancelled or refunded, by start.
	ListFeedBookings(ctx context.Context, resourceID string, from, to time.Time) ([]FeedBooking, error)
	FindResource(ctx context.Context, id string) (*Resource, error)
}

// CalendarFeeds serves the secret calendar feeds of resources.
type CalendarFeeds struct {
	Store CalendarStore
	Now   func() time.Time
}

// NewKey makes a new feed key for the resource and returns it, once; the
// old key stops working. ENotFound for an unknown resource.
func (c *CalendarFeeds) NewKey(ctx context.Context, resourceID string, by *Staff) (string, error) {
	if !IsUUID(resourceID) {
		return "", Errorf(ENotFound, "Resource not found.")
	}
	key := randomToken(32)
	if err := c.Store.SetCalendarKey(ctx, resourceID, HashToken(key), by); err != nil {
		return "", err
	}
	return key, nil
}

// WithFeed returns the ids of the resources that have a feed.
func (c *CalendarFeeds) WithFeed(ctx context.Context) (map[string]bool, error) {
	return c.Store.CalendarFeedResources(ctx)
}

// Feed returns the resource and its bookings of the feed period, from
// and to, when key is the resource's feed key. ENotFound when the resource
// is unknown, has no feed, or key is not its key: the three look the same.
func (c *CalendarFeeds) Feed(ctx context.Context, resourceID, key string) (*Resource, []FeedBooking, time.Time, time.Time, error) {
	notFound := Errorf(ENotFound, "Calendar not found.")
	if !IsUUID(resourceID) || key == "" || len(key) > 200 {
		return nil, nil, time.Time{}, time.Time{}, notFound
	}
	want, err := c.Store.CalendarKeyHash(ctx, resourceID)
	if ErrorCode(err) == ENotFound {
		return nil, nil, time.Time{}, time.Time{}, notFound
	} else if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	if subtle.ConstantTimeCompare(want, HashToken(key)) != 1 {
		return nil, nil, time.Time{}, time.Time{}, notFound
	}
	res, err := c.Store.FindResource(ctx, resourceID)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	now := c.Now()
	from, to := now.Add(-FeedPast), now.Add(FeedAhead)
	items, err := c.Store.ListFeedBookings(ctx, resourceID, from, to)
	if err != nil {
		return nil, nil, time.Time{}, time.Time{}, err
	}
	return res, items, from, to, nil
}
