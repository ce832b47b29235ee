// Return page: shows the booking's status and keeps checking until the
// payment is settled one way or the other.
(function () {
  'use strict';
  const B = window.Booking;
  const box = document.getElementById('status');
  if (!box) return;
  const session = box.getAttribute('data-session');
  const final = ['confirmed', 'payment_failed', 'expired', 'cancelled', 'refunded', 'needs_review', 'not_found'];
  const started = Date.now();
  let failures = 0;

  function show(status) {
    box.setAttribute('data-status', status);
    box.querySelectorAll('.status-panel').forEach(function (p) {
      p.hidden = p.getAttribute('data-for') !== status;
    });
    const badge = document.getElementById('status-badge');
    if (badge && status !== 'slow' && status !== 'error') {
      badge.setAttribute('data-status', status);
      badge.textContent = B.statusLabel(status);
    }
  }

  // delay grows from 1.5 s to 5 s for card payments; asynchronous payments
  // are checked every 15 s.
  function delay(status) {
    if (status === 'awaiting_payment') return 15000;
    const elapsed = Date.now() - started;
    return elapsed < 30000 ? 1500 : 5000;
  }

  async function poll() {
    const res = await B.api('GET', '/checkout/return?session_id=' + encodeURIComponent(session));
    let status = box.getAttribute('data-status');
    if (res.ok && res.body && res.body.status) {
      failures = 0;
      status = res.body.status;
      show(status);
    } else if (res.status === 404) {
      show('not_found');
      return;
    } else if (++failures >= 5) {
      show('error');
      return;
    }
    if (final.indexOf(status) >= 0) return;
    if (status === 'pending' && Date.now() - started > 10 * 60 * 1000) {
      show('slow');
      return;
    }
    window.setTimeout(poll, delay(status));
  }

  const initial = box.getAttribute('data-status');
  if (session && final.indexOf(initial) < 0) {
    window.setTimeout(poll, initial === 'awaiting_payment' ? 5000 : 1000);
  }
})();
