// Package mailer sends the product's email over SMTP.
//
// A [Config] comes from SMTP_URL ([ParseURL]); a [Sender] built from it and
// the MAIL_FROM address sends one [Message] at a time: a multipart text and
// HTML message, optionally with an iCalendar invitation (an inline
// text/calendar alternative plus an invite.ics attachment), under a
// Message-ID derived from the caller's id so a retried send carries the same
// Message-ID.
//
// Every failure is a [*SendError] that says whether it is permanent (the
// server refused this message with a 5xx reply, or the message is invalid)
// or temporary (connection refused, timeout, 4xx reply, authentication or
// TLS trouble); [IsPermanent] tells the two apart so a job queue can retry
// the temporary ones. Errors never contain a recipient address or the SMTP
// password; [RedactAddress] masks an address for logs.
//
// The package renders nothing: subjects and bodies come from the caller
// (see package notify).
package mailer
