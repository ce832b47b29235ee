package postgres

import "github.com/bookingplatform/booking/internal/booking"

// The statements of the store, for the plan test (plan_test.go): it checks
// the plan of each with realistic arguments on a realistic volume.
// TestPlanStatementsComplete parses this package's sources and fails when a
// statement constant is neither here nor in PlanExempt, so a new or renamed
// statement cannot escape the plan test.

// PlanStatements are the statements that read (or find the rows they
// change), by the name of their constant.
var PlanStatements = map[string]string{
	// Customer-facing reads and the booking write path.
	"busyRangesSQL":           busyRangesSQL,
	"claimIdemKeySQL":         claimIdemKeySQL,
	"readIdemKeySQL":          readIdemKeySQL,
	"releaseLapsedSQL":        releaseLapsedSQL,
	"storeIdemAnswerSQL":      storeIdemAnswerSQL,
	"forgetIdemKeySQL":        forgetIdemKeySQL,
	"findBookingWithTokenSQL": findBookingWithTokenSQL,
	"findBookingBySessionSQL": findBookingBySessionSQL,
	"findBookingSQL":          findBookingSQL,
	"findResourceSQL":         findResourceSQL,
	"defaultResourceSQL":      defaultResourceSQL,
	"listResourcesSQL":        listResourcesSQL,

	// Decisions: lock a booking, read its money, apply a plan.
	"lockBookingByIDSQL":      lockBookingByIDSQL,
	"lockBookingBySessionSQL": lockBookingBySessionSQL,
	"lockBookingByIntentSQL":  lockBookingByIntentSQL,
	"lockIntentSQL":           lockIntentSQL,
	"moneyByIDSQL":            moneyByIDSQL,
	"moneyBySessionSQL":       moneyBySessionSQL,
	"moneyByIntentSQL":        moneyByIntentSQL,
	"updateBookingSQL":        updateBookingSQL,
	"insertRequestSQL":        insertRequestSQL,
	"updateRequestSQL":        updateRequestSQL,
	"deleteWaitingSQL":        deleteWaitingSQL,
	"rescheduleBookingSQL":    rescheduleBookingSQL,

	// Refunds owed, the sweep, idempotency answers.
	"claimDueRefundsSQL":     claimDueRefundsSQL,
	"claimBookingRefundsSQL": claimBookingRefundsSQL,
	"trySweepLockSQL":        trySweepLockSQL,
	"expireLapsedSQL":        expireLapsedSQL,
	"purgeIdemKeysSQL":       purgeIdemKeysSQL,

	// Staff views.
	"bookingAuditSQL":         bookingAuditSQL,
	"bookingEventsSQL":        bookingEventsSQL,
	"refundRequestsSQL":       refundRequestsSQL,
	"findPaymentEventSQL":     findPaymentEventSQL,
	"findStoredEventSQL":      findStoredEventSQL,
	"knownEventsSQL":          knownEventsSQL,
	"moneyFiguresSQL":         moneyFiguresSQL,
	"findStaffSQL":            findStaffSQL,
	"findStaffCredentialsSQL": findStaffCredentialsSQL,
	"listStaffSQL":            listStaffSQL,

	// The staff desk.
	"scheduleSQL": scheduleSQL,
	"blocksOfSQL": blocksOfSQL,
	"notesOfSQL":  notesOfSQL,

	// Messages.
	"messageSentSQL": messageSentSQL,
	"messagesOfSQL":  messagesOfSQL,
	"manageTokenSQL": manageTokenSQL,
}

// PlanExempt are the statement constants the plan test does not run, and why.
var PlanExempt = map[string]string{
	"insertNoteSQL":            "inserts its values after one staff user by primary key",
	"insertBlockSQL":           "inserts its values after one staff user by primary key; its trigger reads bookings as busyRangesSQL does",
	"bookingReferenceSQL":      "one booking by primary key",
	"deleteBlockSQL":           "one block by primary key",
	"bookingExistsSQL":         "one booking by primary key",
	"listPoolsSQL":             "pools are few (made by hand by an ADMIN): read whole on purpose, members by primary key prefix",
	"findPoolSQL":              "one pool by primary key, its members by the primary key prefix of pool_members",
	"insertPoolSQL":            "inserts its values, reads nothing",
	"updatePoolSQL":            "one row by primary key",
	"clearPoolMembersSQL":      "the members of one pool by the primary key prefix of pool_members",
	"addPoolMembersSQL":        "inserts its values, reads nothing",
	"createOverrideSQL":        "inserts its values after one resource by primary key",
	"deleteOverrideSQL":        "resource_overrides is small (a few rows per resource, by an ADMIN)",
	"createAPIKeySQL":          "inserts its values, reads nothing",
	"setCalendarKeySQL":        "one resource by primary key, upserted by primary key",
	"calendarKeySQL":           "one row by primary key",
	"calendarFeedResourcesSQL": "calendar_keys is small (at most one row per resource): read whole on purpose",
	"feedBookingsSQL":          "one resource's bookings in a bounded start range, through bookings_resource_starts_idx (00017), LIMIT 20000",
	"customerDataSQL":          "one address's bookings through bookings_customer_email_idx, their rows through each table's booking index",
	"lockCustomerBookingsSQL":  "one address's bookings through bookings_customer_email_idx (00018)",
	"lockEndedBookingsSQL":     "the oldest ended bookings not erased, through the partial bookings_retention_idx (00018), LIMIT",
	"eraseMessagesSQL":         "messages of bookings locked by id",
	"eraseRecipientSQL":        "one address's messages through messages_recipient_idx (00018)",
	"eraseBookingsSQL":         "bookings by primary key",
	"eraseManageTokensSQL":     "manage_tokens by manage_tokens_booking_idx",
	"eraseNotesSQL":            "booking_notes by booking_notes_booking_idx",
	"eraseIdemAnswersSQL":      "idempotency_keys of given bookings; the table holds one day of keys",
	"erasureEventsSQL":         "ledger rows by webhook_events_booking_idx, _session_idx and _payment_intent_idx (00018)",
	"redactEventSQL":           "one row by primary key",
	"recordErasureSQL":         "inserts its values, reads nothing",
	"listAPIKeysSQL":           "api_keys is small (keys made by hand by an ADMIN): read whole on purpose",
	"revokeAPIKeySQL":          "one row by primary key",
	"findAPIKeySQL":            "one row by the unique token hash, joined to its creator by primary key",
	"touchAPIKeySQL":           "one row by primary key, at most once a minute per key",
	"exportTimeoutSQL":         "a SET LOCAL, reads nothing",
	"exportBookingsSQL":        "an export reads every row its filters select, by design; streamed (TestExports)",
	"exportMoneySQL":           "an export reads every row its filters select, by design; streamed (TestExports)",
	"moneySQL":                 "a template: its three instances (moneyBy…SQL) are checked",
	"bookingListSQL":           "one statement per shape: checked through BookingListArgs",
	"eventListSQL":             "one statement per shape: checked through EventListArgs",
	"insertBookingSQL":         "inserts its values, reads nothing",
	"insertPaymentSQL":         "inserts its values, reads nothing",
	"insertRefundSQL":          "inserts its values, reads nothing",
	"insertDisputeSQL":         "inserts its values, reads nothing",
	"insertClosureSQL":         "inserts its values, reads nothing",
	"insertEventSQL":           "inserts its values, reads nothing",
	"insertUnmatchedEventSQL":  "inserts its values (a known event id is a conflict on the key), reads nothing",
	"insertReplaySQL":          "inserts its values, reads nothing",
	"insertWaitingSQL":         "inserts its values (conflict on the key), reads nothing",
	"createResourceSQL":        "inserts its values into a small table",
	"updateResourceSQL":        "one row of a small table (resources) by its key",
	"createStaffSQL":           "inserts its values into a small table",
	"updateStaffSQL":           "one row of a small table (staff_users) by its key",
	"recordLoginFailureSQL":    "one row of a small table (staff_users) by its key",
	"recordLoginSuccessSQL":    "one row of a small table (staff_users) by its key",
	"auditNoteSQL":             "sets a transaction setting, reads nothing",
	"genericPlanSQL":           "sets a transaction setting, reads nothing",
	"recordMessageSQL":         "inserts its values (conflict on the key), reads nothing",
	"addManageTokenSQL":        "inserts its values (conflict on the key), reads nothing",
	"oldestQueuedSQL":          "River's queue table, which River keeps small (finished jobs are deleted) and indexes by state, queue and time",
	// Outgoing webhooks (webhook.go).
	"createWebhookEndpointSQL":  "inserts its values into a small table (endpoints made by hand by an ADMIN)",
	"listWebhookEndpointsSQL":   "webhook_endpoints is small (a handful of rows made by an ADMIN): read whole on purpose",
	"findWebhookEndpointSQL":    "one row by primary key",
	"updateWebhookEndpointSQL":  "one row by primary key",
	"enabledEndpointsSQL":       "webhook_endpoints is small (a handful of rows made by an ADMIN): read whole on purpose, usually empty",
	"endpointForDeliverySQL":    "one row by primary key",
	"endpointSucceededSQL":      "one row by primary key, written only when a run of failures ends",
	"endpointFailedSQL":         "one row by primary key",
	"recordDeliverySQL":         "inserts its values, reads nothing",
	"listWebhookDeliveriesSQL":  "the index webhook_deliveries_endpoint (endpoint_id, id DESC) with a LIMIT",
	"findWebhookDeliverySQL":    "one row by primary key",
	"earlierDeliveryPendingSQL": "river_job_webhook_pending_idx: the unfinished deliveries of one endpoint and booking (migration 00022)",
	"webhookBacklogSQL":         "a metrics scrape: webhook_endpoints is small (a handful of rows made by an ADMIN), and River's queue table by state and queue (its fetch index), which River keeps small",
}

// FastChecks returns the statements of the fast checks of `booking check`
// (FindViolations without full), by violation kind; each takes the limit.
func FastChecks() map[string]string {
	out := map[string]string{}
	for _, c := range checks {
		if !c.full {
			out[c.kind] = c.sql
		}
	}
	return out
}

// BookingListArgs returns the statement of f's shape and its arguments, as
// ListBookings runs them.
func BookingListArgs(f booking.BookingFilter) (string, []any) { return bookingListArgs(&f) }

// EventListArgs returns the statement of f's shape and its arguments, as
// ListPaymentEvents runs them.
func EventListArgs(f booking.EventFilter) (string, []any) { return eventListArgs(&f) }

// BookingListShapes and EventListShapes are the shapes that have a statement.
func BookingListShapes() []string { return keys(bookingListSQL) }

// EventListShapes are the shapes of the ledger list that have a statement.
func EventListShapes() []string { return keys(eventListSQL) }

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
