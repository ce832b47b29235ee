// The customer's booking page: cancel (after confirming the refund the
// server quoted) and move the booking to another free time. The token of
// the page's address opens the booking's API.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };
  const box = $('manage');
  if (!box) return;
  const id = box.getAttribute('data-booking');
  const resourceID = box.getAttribute('data-resource');
  const tz = box.getAttribute('data-timezone');
  const token = new URLSearchParams(location.search).get('token') || '';
  const q = '?token=' + encodeURIComponent(token);
  const api = '/api/bookings/' + encodeURIComponent(id);

  function failure(res, fallback) {
    const body = res.body || {};
    if (res.status === 0) return 'We could not reach the server. Check your connection and try again.';
    if (res.status === 429) return 'Too many attempts. Please wait a minute and try again.';
    return (body.message || fallback) + (res.status >= 500 && body.requestId ? ' (Reference ' + body.requestId + ')' : '');
  }

  // done reloads the page with a message, so that it shows the booking as
  // it is now.
  function done(text) {
    try { sessionStorage.setItem('manage-message', text); } catch (e) { /* private mode */ }
    location.reload();
  }
  try {
    const m = sessionStorage.getItem('manage-message');
    if (m) {
      sessionStorage.removeItem('manage-message');
      B.showAlert($('manage-message'), m);
    }
  } catch (e) { /* private mode */ }

  // Cancel -------------------------------------------------------------
  let refund = Number(box.getAttribute('data-refund') || '0');
  const cancelBtn = $('cancel-button');
  if (cancelBtn) {
    const confirmBox = $('cancel-confirm');
    const cancelErr = $('cancel-error');
    cancelBtn.addEventListener('click', function () {
      B.showAlert(cancelErr, '');
      confirmBox.hidden = false;
      $('cancel-start').hidden = true;
      $('cancel-yes').focus();
    });
    $('cancel-no').addEventListener('click', function () {
      confirmBox.hidden = true;
      $('cancel-start').hidden = false;
      cancelBtn.focus();
    });
    $('cancel-yes').addEventListener('click', async function () {
      const yes = $('cancel-yes');
      yes.disabled = true;
      const res = await B.api('POST', api + '/cancel' + q, { expectedRefundAmount: refund });
      yes.disabled = false;
      if (res.ok && res.body) {
        const b = res.body;
        let text = 'Your booking is cancelled and its time released.';
        if (b.refundAmount > 0) {
          text += ' ' + B.money(b.refundAmount, b.currency) + (b.refundPending
            ? ' will be refunded: the refund is on its way and may take a little longer.'
            : ' is refunded; it takes 5–10 days to reach your account.');
        }
        done(text);
        return;
      }
      if (res.status === 409 && res.body && res.body.error === 'quote_changed') {
        const qr = await B.api('GET', api + '/cancel-quote' + q);
        if (qr.ok && qr.body) {
          refund = qr.body.refundAmount;
          $('quote-reason').textContent = qr.body.reason;
          const amount = refund > 0 ? 'You will get ' + B.money(refund, qr.body.currency) + ' back.' : 'You will get nothing back.';
          $('quote-amount').textContent = amount;
          $('confirm-text').textContent = amount;
        }
        B.showAlert(cancelErr, 'The refund has changed since this page was opened. Please check the new amount and confirm again.');
        return;
      }
      B.showAlert(cancelErr, failure(res, 'This booking could not be cancelled.'));
    });
  }

  // Reschedule ------------------------------------------------------------
  const moveBtn = $('move-button');
  if (!moveBtn) return;
  const dateInput = $('move-date');
  const slotsBox = $('slots');
  const moveErr = $('move-error');
  const state = { date: box.getAttribute('data-date'), slot: '', seq: 0 };

  function addDays(date, n) {
    const p = date.split('-').map(Number);
    return new Date(Date.UTC(p[0], p[1] - 1, p[2] + n)).toISOString().slice(0, 10);
  }

  function today() {
    return B.formatIn(new Date(), tz, { year: 'numeric', month: '2-digit', day: '2-digit' }).split('/').reverse().join('-');
  }

  function render(slots) {
    slotsBox.textContent = '';
    if (!slots.length) {
      slotsBox.appendChild(B.el('p', { className: 'slots-empty', text: 'No free times on this day. Try another day.' }));
      return;
    }
    slots.forEach(function (s, i) {
      const input = B.el('input', { type: 'radio', name: 'slot', id: 'slot-' + i, value: s.startsAt });
      input.checked = s.startsAt === state.slot;
      input.addEventListener('change', function () {
        state.slot = s.startsAt;
        moveBtn.disabled = false;
        moveBtn.textContent = 'Move to ' + B.dateIn(s.startsAt, tz) + ', ' + B.timeIn(s.startsAt, tz);
        B.showAlert(moveErr, '');
      });
      slotsBox.appendChild(B.el('div', { className: 'slot' }, [input,
        B.el('label', { for: 'slot-' + i }, [B.timeIn(s.startsAt, tz)])]));
    });
  }

  async function load(date) {
    state.date = date;
    dateInput.value = date;
    $('prev-day').disabled = date <= today();
    const seq = ++state.seq;
    const res = await B.api('GET', '/api/resources/' + encodeURIComponent(resourceID) + '/availability?date=' + encodeURIComponent(date));
    if (seq !== state.seq) return;
    if (!res.ok || !res.body) {
      slotsBox.textContent = '';
      slotsBox.appendChild(B.el('p', { className: 'slots-empty', text: 'We could not load the free times. Please try again.' }));
      return;
    }
    const slots = res.body.slots || [];
    if (!slots.some(function (s) { return s.startsAt === state.slot; })) {
      state.slot = '';
      moveBtn.disabled = true;
      moveBtn.textContent = 'Move my booking';
    }
    render(slots);
  }

  dateInput.min = today();
  dateInput.addEventListener('change', function () { if (dateInput.value) load(dateInput.value); });
  $('prev-day').addEventListener('click', function () { load(addDays(state.date, -1)); });
  $('next-day').addEventListener('click', function () { load(addDays(state.date, 1)); });

  moveBtn.addEventListener('click', async function () {
    if (!state.slot) return;
    moveBtn.disabled = true;
    const res = await B.api('POST', api + '/reschedule' + q, { startsAt: state.slot });
    if (res.ok && res.body && res.body.booking) {
      const b = res.body.booking;
      done('Your booking now starts on ' + B.dateIn(b.startsAt, tz) + ' at ' + B.timeIn(b.startsAt, tz) +
        ' (' + tz + ' time). Download the calendar file again to update your calendar.');
      return;
    }
    moveBtn.disabled = false;
    if (res.status === 409 && res.body && res.body.error === 'slot_unavailable') {
      B.showAlert(moveErr, 'Sorry, that time was just taken. Your booking keeps its time; please pick another.');
      state.slot = '';
      await load(state.date);
      return;
    }
    B.showAlert(moveErr, failure(res, 'This booking could not be moved.'));
  });

  load(state.date < today() ? today() : state.date);
})();
