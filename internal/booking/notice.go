package booking

import (
	"time"
)

// Message kinds: what the customer and staff are told, and when. The names
// are those of internal/notify's templates.
const (
	NoticeConfirmation       = "confirmation"
	NoticeReminder           = "reminder"
	NoticeCancellation       = "cancellation"
	NoticeRefund             = "refund"
	NoticeReschedule         = "reschedule"
	NoticePaymentLink        = "payment_link"
	NoticeStaffNewBooking    = "staff_new_booking"
	NoticeStaffNeedsReview   = "staff_needs_review"
	NoticeStaffDispute       = "staff_dispute"
	NoticeStaffRefundFailing = "staff_refund_failing"
)

// A Notice is a message a change of a booking causes. It is queued in the
// transaction of the change (a change that rolls back sends nothing) and
// sent at most once per (booking, kind, version): a storm of one event, a
// replay, or a retry of the job cannot send it twice.
type Notice struct {
	BookingID string
	Kind      string
	// Version tells apart messages of one kind for one booking: the
	// booking's calendar sequence for customer messages (a reschedule sends
	// a second confirmation-like message), the refund request for a failing
	// refund, the dispute for a dispute.
	Version int64
	// StartsAt is the booking's start, for a reminder, sent ReminderHours
	// before it (the resource's reminderHours; 0: none).
	StartsAt      time.Time
	ReminderHours int
	// Ref names what the message is about (a dispute's Stripe id), for staff.
	Ref string
	// PreviousStartsAt and PreviousEndsAt are the booking's time before a
	// reschedule.
	PreviousStartsAt, PreviousEndsAt time.Time
}

// Notices returns the messages plan p causes for the booking in st, with
// the booking as it is before p. It decides nothing about money: it reads
// what the plan does.
//   - entering confirmed: the customer's confirmation, its reminder, and a
//     staff alert of a new booking;
//   - entering needs_review: a staff alert;
//   - a confirmed booking that ends cancelled or refunded: the customer's
//     cancellation or refund notice (with a METHOD:CANCEL calendar file);
//     a cancelled booking whose refund is then made: the refund notice;
//   - a new dispute: a staff alert;
//   - a refund that failed RefundReviewAfter times: a staff alert;
//   - a reschedule: the customer's notice with the new time, and a reminder
//     moved with it.
func Notices(st *State, p *Plan) []Notice {
	b := &st.Booking
	var out []Notice
	add := func(kind string, version int64) {
		out = append(out, Notice{BookingID: b.ID, Kind: kind, Version: version,
			StartsAt: b.StartsAt, ReminderHours: st.ReminderHours})
	}
	seq := int64(b.Sequence)
	from, to := b.Status, b.Status
	if p.After != nil {
		to = p.After.Status
	}
	if to != from {
		switch to {
		case StatusConfirmed:
			add(NoticeConfirmation, seq)
			add(NoticeReminder, seq)
			add(NoticeStaffNewBooking, 0)
		case StatusNeedsReview:
			// One alert per entry into review, told apart by what moved it
			// there (an event, a staff member, a refund request).
			c := p.After.Cause
			add(NoticeStaffNeedsReview, stableVersion(string(from)+"|"+c.Kind+"|"+c.Ref+"|"+p.After.ReviewReason))
		case StatusCancelled, StatusRefunded:
			switch {
			case from == StatusConfirmed || (from == StatusNeedsReview && b.HoldsSlot):
				kind := NoticeCancellation
				if to == StatusRefunded {
					kind = NoticeRefund
				}
				add(kind, seq)
			case from == StatusCancelled && to == StatusRefunded && b.AmountPaid > 0:
				// A paid booking the customer cancelled: its refund is made.
				add(NoticeRefund, seq)
			}
		}
	}
	if d := p.Dispute; d != nil {
		out = append(out, Notice{BookingID: b.ID, Kind: NoticeStaffDispute,
			Version: stableVersion(d.ID), Ref: d.ID})
	}
	for _, u := range p.Requests {
		if u.State == RequestOwed && u.Attempts == RefundReviewAfter {
			add(NoticeStaffRefundFailing, u.ID)
		}
	}
	if r := p.Reschedule; r != nil {
		out = append(out,
			Notice{BookingID: b.ID, Kind: NoticeReschedule, Version: seq + 1, StartsAt: r.StartsAt,
				PreviousStartsAt: b.StartsAt, PreviousEndsAt: b.EndsAt},
			Notice{BookingID: b.ID, Kind: NoticeReminder, Version: seq + 1, StartsAt: r.StartsAt,
				ReminderHours: st.ReminderHours})
	}
	return out
}

// stableVersion turns an identifier into a version number (FNV-1a, 63 bits).
func stableVersion(s string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int64(h >> 1)
}

// SentMessage is a message the mail server accepted.
type SentMessage struct {
	BookingID string    `json:"-"`
	Kind      string    `json:"kind"`
	Version   int64     `json:"version"`
	Recipient string    `json:"recipient"`
	Subject   string    `json:"subject"`
	MessageID string    `json:"messageId"`
	JobID     int64     `json:"jobId"`
	SentAt    time.Time `json:"sentAt"`
}

// QueuedMessage is a message job as staff see it.
type QueuedMessage struct {
	JobID     int64  `json:"jobId"`
	BookingID string `json:"bookingId"`
	Kind      string `json:"kind"`
	Version   int64  `json:"version"`
	// Then are the messages of the same change the job sends after Kind
	// (a confirmation's staff alert and reminder).
	Then        []string  `json:"then,omitempty"`
	State       string    `json:"state"` // queued, failed (to be retried), dead (given up), done
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"maxAttempts"`
	ScheduledAt time.Time `json:"scheduledAt"`
	CreatedAt   time.Time `json:"createdAt"`
	LastError   string    `json:"lastError,omitempty"`
}

// Message list states.
const (
	MessageQueued = "queued"
	MessageFailed = "failed"
	MessageDead   = "dead"
	MessageDone   = "done" // sent, or no longer true when its time came
)
