// Staff dashboard: the money figures and webhook counters, bookings and the
// payment-event ledger, and the view of one booking (#booking/<id>) with its
// money, audit trail and ledger rows. Cancel, refund, accept and replay are
// shown to the roles allowed to use them; the ones that move money ask for a
// second click.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };
  const el = B.el;

  const state = { user: null, resources: {}, references: {}, cursor: '', status: '', detailID: '' };
  const canAct = function () { return state.user && (state.user.role === 'ADMIN' || state.user.role === 'OPS'); };

  // The actions of the booking view, by the names GET /api/admin/bookings/{id}
  // lists in "actions", in the order their buttons appear.
  const actions = {
    accept: { label: 'Accept payment', confirm: 'Confirm accept', route: 'accept', style: 'primary', what: 'accept this booking' },
    refund: { label: 'Refund', confirm: 'Confirm refund', route: 'cancel', style: 'danger', what: 'refund this booking' },
    retry_refund: { label: 'Retry refund', confirm: 'Confirm retry', route: 'cancel', style: 'danger', what: 'retry the refund' },
    cancel: { label: 'Cancel', confirm: 'Confirm cancel', route: 'cancel', style: 'danger', what: 'cancel this booking' }
  };

  // toLogin signs in again and comes back to the same view.
  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent('/dashboard' + window.location.hash));
  }

  function notice(text) {
    B.showAlert($('dash-notice'), text);
  }

  function failure(res, what) {
    if (res.status === 401) {
      toLogin();
      return;
    }
    const body = res.body || {};
    let msg;
    if (res.status === 403) msg = 'Your role is not allowed to ' + what + '.';
    else if (res.status === 0) msg = 'The server could not be reached.';
    else msg = body.message || ('Could not ' + what + '.');
    B.showAlert($('dash-error'), msg + (body.requestId ? ' (Request ' + body.requestId + ')' : ''));
  }

  function localTime(iso) {
    if (!iso) return '—';
    return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
  }

  function clockTime(d) {
    return new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(d);
  }

  function shortID(id) {
    return id ? id.slice(0, 8) : '—';
  }

  // words turns a snake_case code into words: needs_response → needs response.
  function words(code) {
    return String(code || '').replace(/_/g, ' ');
  }

  function badge(kind, value, text) {
    const attrs = { className: 'badge' };
    attrs['data-' + kind] = value;
    return el('span', attrs, [text]);
  }

  // flags are the badges of a booking's dispute and of a refund it is owed.
  function flags(b) {
    const out = [];
    if (b.dispute) out.push(badge('flag', 'dispute', b.dispute.closed ? 'Dispute ' + words(b.dispute.status) : 'Disputed'));
    if (b.refundOwed > 0) out.push(badge('flag', 'owed', 'Refund owed ' + B.money(b.refundOwed, b.currency)));
    return out.length ? el('div', { className: 'badges' }, out) : null;
  }

  const confirmButton = B.confirmButton;

  function actionButton(name, b) {
    const a = actions[name];
    const btn = confirmButton(a.label, a.confirm, a.style, function () { return runAction(name, b); });
    btn.setAttribute('data-action', name);
    return btn;
  }

  // runAction posts a booking action, reloads what is shown, then says what
  // happened: the notice means the view already shows the result.
  async function runAction(name, b) {
    const a = actions[name];
    const res = await B.api('POST', '/api/admin/bookings/' + encodeURIComponent(b.id) + '/' + a.route);
    await loadAll();
    if (!res.ok) {
      failure(res, a.what);
      return;
    }
    B.showAlert($('dash-error'), '');
    const after = res.body && res.body.booking ? res.body.booking.status : '';
    notice('Booking ' + b.reference + ' is now ' + B.statusLabel(after).toLowerCase() + '.');
  }

  // cell is a table cell labelled for the narrow layout, its content in one box.
  function cell(label, className, children) {
    return el('td', { 'data-label': label, className: className || null }, [el('div', {}, children)]);
  }

  function mono(text, title) {
    return el('div', { className: 'event-id', title: title || text }, [text || '—']);
  }

  function bookingLink(id, text) {
    return el('a', { href: '#booking/' + id, className: 'booking-link' }, [text]);
  }

  function bookingRow(b) {
    const r = state.resources[b.resourceId];
    const tz = r ? r.timezone : 'UTC';
    const amount = [el('div', {}, [B.money(b.amountTotal, b.currency)])];
    if (b.amountRefunded > 0) amount.push(el('div', { className: 'cell-sub' }, ['refunded ' + B.money(b.amountRefunded, b.currency)]));
    const status = [badge('status', b.status, B.statusLabel(b.status)), flags(b)];
    if (b.reviewReason) status.push(el('div', { className: 'cell-sub' }, [b.reviewReason]));
    const cellActions = el('td', { className: 'actions' });
    if (canAct()) {
      if (b.status === 'pending' || b.status === 'awaiting_payment') cellActions.appendChild(actionButton('cancel', b));
      else if (b.status === 'confirmed') cellActions.appendChild(actionButton('refund', b));
    }
    return el('tr', { 'data-booking': b.id }, [
      cell('Reference', 'nowrap', [el('div', { className: 'cell-main mono' }, [bookingLink(b.id, b.reference)]), el('div', { className: 'cell-sub' }, [r ? r.name : 'Resource ' + shortID(b.resourceId)])]),
      cell('Customer', null, [el('div', {}, [b.customer.firstName + ' ' + b.customer.lastName]), el('div', { className: 'cell-sub' }, [b.customer.email])]),
      cell('When', 'nowrap', [el('div', {}, [B.dateIn(b.startsAt, tz)]), el('div', { className: 'cell-sub' }, [B.timeIn(b.startsAt, tz) + '–' + B.timeIn(b.endsAt, tz)])]),
      cell('Amount', 'num', amount),
      cell('Status', null, status),
      cell('Created', 'nowrap cell-sub', [localTime(b.createdAt)]),
      cellActions
    ]);
  }

  async function replayEvent(ev) {
    const res = await B.api('POST', '/api/admin/payment-events/' + encodeURIComponent(ev.id) + '/replay');
    await loadAll();
    if (!res.ok) {
      failure(res, 'replay this event');
      return;
    }
    B.showAlert($('dash-error'), '');
    const outcome = res.body && res.body.outcome ? res.body.outcome : 'done';
    notice('Event ' + ev.id + ' replayed: ' + outcome + '.');
  }

  // eventType shows a Stripe event type that may break after its dots.
  function eventType(type) {
    const parts = [];
    String(type).split('.').forEach(function (p, i, all) {
      parts.push(i < all.length - 1 ? p + '.' : p);
      if (i < all.length - 1) parts.push(el('wbr'));
    });
    return el('span', { className: 'mono small' }, parts);
  }

  function outcomeCell(ev) {
    const out = [badge('outcome', ev.outcome, ev.outcome)];
    if (ev.detail) out.push(el('div', { className: 'cell-sub' }, [ev.detail]));
    return cell('Outcome', null, out);
  }

  function eventRow(ev) {
    const booking = ev.bookingId ? bookingLink(ev.bookingId, state.references[ev.bookingId] || shortID(ev.bookingId)) : '—';
    const src = [ev.source || 'webhook'];
    if (ev.replayCount > 0) src.push(ev.replayCount === 1 ? 'replayed once' : 'replayed ' + ev.replayCount + ' times');
    const cellActions = el('td', { className: 'actions' });
    if (canAct()) {
      const btn = el('button', { type: 'button', className: 'btn btn-secondary btn-small' }, ['Replay']);
      btn.addEventListener('click', async function () {
        btn.disabled = true;
        btn.textContent = 'Replaying…';
        await replayEvent(ev);
      });
      cellActions.appendChild(btn);
    }
    return el('tr', { 'data-event': ev.id }, [
      cell('Received', 'nowrap', [localTime(ev.receivedAt)]),
      cell('Type', null, [eventType(ev.type)]),
      outcomeCell(ev),
      cell('Booking', 'mono small nowrap', [booking]),
      cell('Event', null, [mono(ev.id), el('div', { className: 'cell-sub' }, [src.join(' · ')])]),
      cellActions
    ]);
  }

  // Messages -------------------------------------------------------------

  const messageNames = {
    confirmation: 'Confirmation', reminder: 'Reminder', cancellation: 'Cancellation', refund: 'Refund notice',
    reschedule: 'Reschedule notice', payment_link: 'Payment link', staff_new_booking: 'Staff: new booking', staff_needs_review: 'Staff: needs review',
    staff_dispute: 'Staff: dispute', staff_refund_failing: 'Staff: refund failing'
  };

  function messageName(kind) { return messageNames[kind] || words(kind); }

  function retryButton(m, after) {
    const btn = el('button', { type: 'button', className: 'btn btn-secondary btn-small' }, ['Send again']);
    btn.addEventListener('click', async function () {
      btn.disabled = true;
      btn.textContent = 'Queuing…';
      const res = await B.api('POST', '/api/admin/messages/' + encodeURIComponent(m.jobId) + '/retry');
      if (!res.ok) {
        failure(res, 'send this message again');
        btn.disabled = false;
        btn.textContent = 'Send again';
        return;
      }
      notice(messageName(m.kind) + ' queued to be sent again.');
      await after();
    });
    return btn;
  }

  // thenLine names the messages of the same change a job sends after its own.
  function thenLine(m) {
    if (!m.then || !m.then.length) return '';
    return el('div', { className: 'cell-sub' }, ['then ' + m.then.map(messageName).join(', ')]);
  }

  function messageRow(m) {
    const actions = el('td', { className: 'actions' });
    if (canAct() && (m.state === 'failed' || m.state === 'dead')) actions.appendChild(retryButton(m, loadMessages));
    const booking = bookingLink(m.bookingId, state.references[m.bookingId] || shortID(m.bookingId));
    return el('tr', { 'data-message': String(m.jobId) }, [
      cell('Due', 'nowrap', [localTime(m.scheduledAt)]),
      cell('Message', null, [messageName(m.kind), thenLine(m)]),
      cell('State', null, [badge('message', m.state, words(m.state) + (m.attempt ? ' · ' + m.attempt + '/' + m.maxAttempts : ''))]),
      cell('Booking', 'mono small nowrap', [booking]),
      cell('Last error', 'small', [m.lastError || '—']),
      actions
    ]);
  }

  async function loadMessages() {
    const q = new URLSearchParams({ limit: '50' });
    if (state.messages) q.set('state', state.messages);
    const res = await B.api('GET', '/api/admin/messages?' + q.toString());
    if (!res.ok || !res.body) {
      failure(res, 'load messages');
      return false;
    }
    const items = res.body.items || [];
    fill('messages-body', 6, items, messageRow, state.messages ? 'No messages in this state.' : 'Nothing waits; nothing failed.');
    $('messages-count').textContent = String(items.length);
    return true;
  }

  async function loadBookingMessages(id) {
    const res = await B.api('GET', '/api/admin/bookings/' + encodeURIComponent(id) + '/messages');
    if (state.detailID !== id || !res.ok || !res.body) return;
    const rows = [];
    (res.body.sent || []).forEach(function (m) {
      rows.push(el('tr', {}, [
        cell('When', 'nowrap', [localTime(m.sentAt)]),
        cell('Message', null, [messageName(m.kind), el('div', { className: 'cell-sub' }, [m.subject])]),
        cell('State', null, [badge('message', 'sent', 'Sent')]),
        cell('To', 'small', [m.recipient]),
        el('td', { className: 'actions' })
      ]));
    });
    (res.body.pending || []).forEach(function (m) {
      const actions = el('td', { className: 'actions' });
      if (canAct() && (m.state === 'failed' || m.state === 'dead')) {
        actions.appendChild(retryButton(m, function () { return loadBookingMessages(id); }));
      }
      rows.push(el('tr', {}, [
        cell('When', 'nowrap', [localTime(m.scheduledAt)]),
        cell('Message', null, [messageName(m.kind), thenLine(m), m.lastError ? el('div', { className: 'cell-sub' }, [m.lastError]) : '']),
        cell('State', null, [badge('message', m.state, words(m.state))]),
        cell('To', 'small', ['—']),
        actions
      ]));
    });
    fill('booking-messages-body', 5, rows, function (r) { return r; }, 'No messages for this booking.');
  }

  async function loadNotes(id) {
    const res = await B.api('GET', '/api/admin/bookings/' + encodeURIComponent(id) + '/notes');
    if (state.detailID !== id || !res.ok || !res.body) return;
    const list = $('notes-list');
    list.textContent = '';
    (res.body.items || []).forEach(function (n) {
      list.appendChild(el('li', {}, [el('div', {}, [n.body]), el('div', { className: 'cell-sub' }, [n.author + ' · ' + localTime(n.createdAt)])]));
    });
    if (!list.children.length) list.appendChild(el('li', { className: 'muted small' }, ['No notes.']));
    $('note-form').hidden = !canAct();
  }

  function emptyRow(body, cols, text) {
    body.textContent = '';
    body.appendChild(el('tr', {}, [el('td', { colspan: String(cols), className: 'table-empty' }, [text])]));
  }

  // fill replaces the rows of a table body, or says empty when there are none.
  function fill(id, cols, items, row, empty) {
    const body = $(id);
    body.textContent = '';
    (items || []).forEach(function (it) { body.appendChild(row(it)); });
    if (!body.children.length) emptyRow(body, cols, empty);
  }

  async function loadBookings(more) {
    const q = new URLSearchParams({ limit: '25' });
    if (state.status) q.set('status', state.status);
    if (more && state.cursor) q.set('cursor', state.cursor);
    const res = await B.api('GET', '/api/admin/bookings?' + q.toString());
    if (!res.ok || !res.body) {
      failure(res, 'load bookings');
      return false;
    }
    const items = res.body.items || [];
    const meta = res.body.meta || {};
    const body = $('bookings-body');
    if (!more) body.textContent = '';
    items.forEach(function (b) {
      state.references[b.id] = b.reference;
      body.appendChild(bookingRow(b));
    });
    if (!more && !items.length) emptyRow(body, 7, state.status ? 'No bookings with this status.' : 'No bookings yet.');
    state.cursor = meta.nextCursor || '';
    $('bookings-foot').hidden = !state.cursor;
    $('bookings-count').textContent = body.querySelectorAll('tr[data-booking]').length + (state.cursor ? '+' : '');
    return true;
  }

  async function loadEvents() {
    const res = await B.api('GET', '/api/admin/payment-events?limit=50');
    if (!res.ok || !res.body) {
      failure(res, 'load payment events');
      return false;
    }
    const items = res.body.items || [];
    fill('events-body', 6, items, eventRow, 'No payment events yet.');
    $('events-count').textContent = String(items.length);
    return true;
  }

  // showFigures writes figures[name] into every element whose attr is name.
  function showFigures(attr, figures) {
    document.querySelectorAll('[' + attr + ']').forEach(function (n) {
      const v = figures[n.getAttribute(attr)];
      n.textContent = typeof v === 'number' ? v.toLocaleString('en-GB') : '–';
      n.setAttribute('data-zero', v === 0 ? 'true' : 'false');
    });
  }

  async function loadMetrics() {
    if (!canAct()) return;
    const res = await B.api('GET', '/admin/metrics');
    if (!res.ok || !res.body || !res.body.webhook) return;
    showFigures('data-metric', res.body.webhook);
    $('metrics-section').hidden = false;

    const m = res.body.money;
    if (!m) return;
    const counts = m.checkedAt ? (m.violations || {}) : {};
    const kinds = Object.keys(counts).filter(function (k) { return counts[k] > 0; }).sort();
    const list = $('money-violations');
    list.textContent = '';
    kinds.forEach(function (k) { list.appendChild(el('li', {}, [words(k) + ': ' + counts[k]])); });
    list.hidden = !kinds.length;
    const total = kinds.reduce(function (n, k) { return n + counts[k]; }, 0);
    showFigures('data-money', m.checkedAt ? Object.assign({}, m, { violations: total }) : {});
    $('money-checked').textContent = m.checkedAt ? '· checked at ' + clockTime(new Date(m.checkedAt)) : '· not checked yet';
    $('money-section').hidden = false;
  }

  async function loadResources() {
    const res = await B.api('GET', '/api/resources');
    if (res.ok && res.body) {
      (res.body.items || []).forEach(function (r) { state.resources[r.id] = r; });
    }
  }

  // --- The view of one booking -------------------------------------------

  function fact(name, label, children) {
    return el('div', { 'data-fact': name }, [el('dt', {}, [label]), el('dd', {}, children)]);
  }

  function statusFact(b) {
    const out = [badge('status', b.status, B.statusLabel(b.status)), flags(b)];
    if (b.reviewReason) out.push(el('div', { className: 'cell-sub' }, [b.reviewReason]));
    return out;
  }

  function paymentRow(p) {
    // Money taken at the venue has no session, PaymentIntent or event: it
    // says so, with the staff member who took it.
    const offline = p.method === 'offline';
    const session = offline ? [badge('method', 'offline', 'At the venue'),
      el('div', { className: 'cell-sub' }, ['recorded by ' + staffName(p.recordedBy)])] : [mono(p.sessionId)];
    return el('tr', { 'data-method': p.method || 'stripe' }, [
      cell('Received', 'nowrap', [localTime(p.createdAt)]),
      cell('Amount', 'num', [B.money(p.amount, p.currency)]),
      cell('Checkout Session', null, session),
      cell('PaymentIntent', null, [mono(p.paymentIntentId)]),
      cell('Event', null, [mono(p.eventId)])
    ]);
  }

  // staffName is the signed-in user's own email, or a short id.
  function staffName(id) {
    if (state.user && state.user.id === id) return state.user.email;
    return 'staff ' + shortID(id);
  }

  function refundRow(r) {
    return el('tr', {}, [
      cell('Made', 'nowrap', [localTime(r.createdAt)]),
      cell('Amount', 'num', [B.money(r.amount, r.currency)]),
      cell('Status', null, [r.status ? words(r.status) : '—']),
      cell('Source', null, [r.method === 'offline' ? (r.source || 'staff') + ', handed back at the venue' : (r.source || '—')]),
      cell('Refund', null, [mono(r.id)])
    ]);
  }

  function requestRow(q) {
    return el('tr', { 'data-request': String(q.id) }, [
      cell('State', null, [badge('request', q.state, q.state)]),
      cell('Amount', 'num', [B.money(q.amount, q.currency)]),
      cell('Reason', null, [q.reason]),
      cell('Attempts', 'num', [String(q.attempts)]),
      cell('Last error', null, [q.lastError || '—']),
      cell('Next attempt', 'nowrap', [q.state === 'owed' ? localTime(q.nextAttemptAt) : '—'])
    ]);
  }

  function disputeRow(d) {
    const status = [words(d.status)];
    if (d.closed) status.push(el('div', { className: 'cell-sub' }, ['closed']));
    return el('tr', { 'data-dispute': d.id }, [
      cell('Dispute', null, [mono(d.id)]),
      cell('Amount', 'num', [B.money(d.amount, d.currency)]),
      cell('Reason', null, [words(d.reason) || '—']),
      cell('Status', null, status),
      cell('Opened', 'nowrap', [localTime(d.createdAt)])
    ]);
  }

  function auditRow(a) {
    // A move keeps the status: its detail says what changed.
    const change = a.detail && a.from === a.to ? a.detail
      : (a.from ? B.statusLabel(a.from) : 'Created') + ' → ' + B.statusLabel(a.to);
    const cause = [el('div', {}, [a.cause])];
    if (a.causeRef) cause.push(mono(a.causeRef));
    return el('tr', {}, [
      cell('When', 'nowrap', [localTime(a.createdAt)]),
      cell('Change', null, [change]),
      cell('Cause', null, cause)
    ]);
  }

  function ledgerRow(ev) {
    const runs = el('ul', { className: 'runs' }, [el('li', {}, [(ev.source || 'webhook') + ' · ' + localTime(ev.receivedAt)])]);
    (ev.replays || []).forEach(function (r) {
      runs.appendChild(el('li', {}, [
        r.source + ' · ' + localTime(r.createdAt) + ' · ',
        badge('outcome', r.outcome, r.outcome),
        r.detail ? ' ' + r.detail : null
      ]));
    });
    return el('tr', { 'data-event': ev.id }, [
      cell('Received', 'nowrap', [localTime(ev.receivedAt)]),
      cell('Type', null, [eventType(ev.type)]),
      outcomeCell(ev),
      cell('Runs', null, [runs]),
      cell('Event', null, [mono(ev.id)])
    ]);
  }

  function renderDetail(d) {
    const b = d.booking;
    const r = state.resources[b.resourceId];
    const tz = r ? r.timezone : 'UTC';
    state.references[b.id] = b.reference;
    $('detail-ref').textContent = b.reference;
    $('detail-sub').textContent = (r ? r.name : 'Resource ' + shortID(b.resourceId)) + ' · ' +
      B.dateIn(b.startsAt, tz) + ', ' + B.timeIn(b.startsAt, tz) + '–' + B.timeIn(b.endsAt, tz) + ' (' + tz + ')';

    const facts = $('detail-facts');
    facts.textContent = '';
    const money = function (v) { return B.money(v || 0, b.currency); };
    [
      fact('status', 'Status', statusFact(b)),
      fact('slot', 'Slot', [b.holdsSlot ? 'Held by this booking' : 'Not held']),
      fact('customer', 'Customer', [el('div', {}, [b.customer.firstName + ' ' + b.customer.lastName]), el('div', { className: 'cell-sub' }, [b.customer.email])]),
      fact('price', 'Price', [money(b.amountTotal)]),
      fact('paid', 'Paid', [money(b.amountPaid)]),
      fact('refunded', 'Refunded', [money(b.amountRefunded)]),
      fact('owed', 'Refund owed', [money(b.refundOwed)]),
      b.amountRetained > 0 ? fact('retained', 'Fee retained', [money(b.amountRetained)]) : null,
      b.status === 'pending' ? fact('hold', 'Hold ends', [localTime(b.holdExpiresAt)]) : null,
      fact('session', 'Checkout Session', [mono(b.stripeSessionId)]),
      fact('created', 'Created', [localTime(b.createdAt)]),
      fact('updated', 'Updated', [localTime(b.updatedAt)])
    ].forEach(function (f) { if (f) facts.appendChild(f); });
    facts.querySelector('[data-fact="owed"]').setAttribute('data-due', b.refundOwed > 0 ? 'true' : 'false');
    facts.setAttribute('aria-busy', 'false');

    const box = $('detail-actions');
    box.textContent = '';
    if (canAct()) {
      Object.keys(actions).forEach(function (name) {
        if ((d.actions || []).indexOf(name) >= 0) box.appendChild(actionButton(name, b));
      });
    }

    $('detail-disputes').hidden = !(d.disputes && d.disputes.length);
    fill('disputes-body', 5, d.disputes, disputeRow, 'No dispute.');
    fill('payments-body', 5, d.payments, paymentRow, 'No payment.');
    fill('refunds-body', 5, d.refunds, refundRow, 'No refund.');
    fill('requests-body', 6, d.refundRequests, requestRow, 'No refund request.');
    fill('audit-body', 3, d.audit, auditRow, 'No status change.');
    fill('ledger-body', 5, d.events, ledgerRow, 'No payment event.');
  }

  // loadDetail shows booking id in the booking view; an answer for a booking
  // no longer shown is dropped.
  async function loadDetail(id) {
    const res = await B.api('GET', '/api/admin/bookings/' + encodeURIComponent(id));
    if (state.detailID !== id) return true;
    if (!res.ok || !res.body || !res.body.booking) {
      if (res.status === 404) B.showAlert($('dash-error'), 'There is no booking with this id.');
      else failure(res, 'load this booking');
      return false;
    }
    renderDetail(res.body);
    loadBookingMessages(id); // its own section; the view does not wait for it
    loadNotes(id);
    return true;
  }

  async function openDetail(id) {
    const first = state.detailID !== id;
    state.detailID = id;
    if (first) {
      notice('');
      $('detail-ref').textContent = state.references[id] || '';
      $('detail-sub').textContent = 'Loading…';
      $('detail-facts').textContent = '';
      $('detail-facts').setAttribute('aria-busy', 'true');
      $('detail-actions').textContent = '';
    }
    $('list-view').hidden = true;
    $('detail-view').hidden = false;
    await loadDetail(id);
    if (first && state.detailID === id) $('detail-title').focus();
  }

  function closeDetail() {
    const was = state.detailID;
    state.detailID = '';
    $('detail-view').hidden = true;
    $('list-view').hidden = false;
    if (!was) return;
    notice('');
    const link = document.querySelector('#bookings-body tr[data-booking="' + was + '"] .booking-link');
    if (link) link.focus();
  }

  // route shows the view the address asks for: #booking/<id>, or the lists.
  function route() {
    const m = /^#booking\/([0-9a-fA-F-]{36})$/.exec(window.location.hash);
    if (m) openDetail(m[1].toLowerCase());
    else closeDetail();
  }

  // -----------------------------------------------------------------------

  async function loadAll() {
    const ok = [await loadBookings(false), await loadEvents(), await loadMessages()];
    await loadMetrics();
    if (state.detailID) ok.push(await loadDetail(state.detailID));
    if (ok.every(Boolean)) B.showAlert($('dash-error'), '');
    $('updated-at').textContent = 'Updated ' + clockTime(new Date());
  }

  async function init() {
    const me = await B.api('GET', '/auth/me');
    if (!me.ok || !me.body || !me.body.user) {
      if (me.status === 401 || me.status === 403) {
        toLogin();
        return;
      }
      failure(me, 'load your account');
      return;
    }
    state.user = me.body.user;
    $('user-email').textContent = state.user.email;
    $('user-role').textContent = state.user.role;
    $('header-user').hidden = false;
    await loadResources();
    await loadAll();
    route();
    window.addEventListener('hashchange', route);
    window.setInterval(function () {
      if (document.visibilityState === 'visible' && !document.querySelector('[data-armed]')) loadAll();
    }, 30000);
  }

  $('note-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const id = state.detailID;
    const text = $('note-body').value.trim();
    if (!id || !text) return;
    const res = await B.api('POST', '/api/admin/bookings/' + encodeURIComponent(id) + '/notes', { body: text });
    if (!res.ok) {
      failure(res, 'add this note');
      return;
    }
    $('note-body').value = '';
    await loadNotes(id);
  });

  $('messages-filter').addEventListener('change', function () {
    state.messages = $('messages-filter').value;
    loadMessages();
  });

  $('status-filter').addEventListener('change', function () {
    state.status = $('status-filter').value;
    state.cursor = '';
    loadBookings(false);
  });
  $('bookings-more').addEventListener('click', function () { loadBookings(true); });
  $('refresh').addEventListener('click', function () { loadAll(); });
  $('logout').addEventListener('click', async function () {
    await B.api('POST', '/auth/logout');
    window.location.assign('/login');
  });

  init();
})();
