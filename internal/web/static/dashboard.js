// Staff dashboard: bookings, the payment-event ledger and webhook counters,
// with cancel/refund and replay for the roles allowed to use them.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };
  const el = B.el;

  const state = { user: null, resources: {}, references: {}, cursor: '', status: '', timer: 0 };
  const canAct = function () { return state.user && (state.user.role === 'ADMIN' || state.user.role === 'OPS'); };

  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent('/dashboard'));
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

  function shortID(id) {
    return id ? id.slice(0, 8) : '—';
  }

  function badge(kind, value, text) {
    const attrs = { className: 'badge' };
    attrs['data-' + kind] = value;
    return el('span', attrs, [text]);
  }

  // confirmButton asks for a second click before running action.
  function confirmButton(label, confirmLabel, action) {
    const btn = el('button', { type: 'button', className: 'btn btn-danger btn-small' }, [label]);
    let armed = false;
    let timer = 0;
    btn.addEventListener('click', async function () {
      if (!armed) {
        armed = true;
        btn.textContent = confirmLabel;
        btn.className = 'btn btn-danger-solid btn-small';
        timer = window.setTimeout(function () {
          armed = false;
          btn.textContent = label;
          btn.className = 'btn btn-danger btn-small';
        }, 10000);
        return;
      }
      window.clearTimeout(timer);
      btn.disabled = true;
      btn.textContent = 'Working…';
      await action();
    });
    return btn;
  }

  // cell is a table cell labelled for the narrow layout, its content in one box.
  function cell(label, className, children) {
    return el('td', { 'data-label': label, className: className || null }, [el('div', {}, children)]);
  }

  function bookingRow(b) {
    const r = state.resources[b.resourceId];
    const tz = r ? r.timezone : 'UTC';
    const amount = [el('div', {}, [B.money(b.amountTotal, b.currency)])];
    if (b.amountRefunded > 0) amount.push(el('div', { className: 'cell-sub' }, ['refunded ' + B.money(b.amountRefunded, b.currency)]));
    const status = [badge('status', b.status, B.statusLabel(b.status))];
    if (b.reviewReason) status.push(el('div', { className: 'cell-sub' }, [b.reviewReason]));
    const actions = el('td', { className: 'actions' });
    if (canAct()) {
      if (b.status === 'pending' || b.status === 'awaiting_payment') {
        actions.appendChild(confirmButton('Cancel', 'Confirm cancel', function () { return cancelBooking(b, 'cancelled'); }));
      } else if (b.status === 'confirmed') {
        actions.appendChild(confirmButton('Refund', 'Confirm refund', function () { return cancelBooking(b, 'refunded'); }));
      }
    }
    return el('tr', { 'data-booking': b.id }, [
      cell('Reference', 'nowrap', [el('div', { className: 'cell-main mono' }, [b.reference]), el('div', { className: 'cell-sub' }, [r ? r.name : 'Resource ' + shortID(b.resourceId)])]),
      cell('Customer', null, [el('div', {}, [b.customer.firstName + ' ' + b.customer.lastName]), el('div', { className: 'cell-sub' }, [b.customer.email])]),
      cell('When', 'nowrap', [el('div', {}, [B.dateIn(b.startsAt, tz)]), el('div', { className: 'cell-sub' }, [B.timeIn(b.startsAt, tz) + '–' + B.timeIn(b.endsAt, tz)])]),
      cell('Amount', 'num', amount),
      cell('Status', null, status),
      cell('Created', 'nowrap cell-sub', [localTime(b.createdAt)]),
      actions
    ]);
  }

  async function cancelBooking(b, verb) {
    const res = await B.api('POST', '/api/admin/bookings/' + encodeURIComponent(b.id) + '/cancel');
    if (!res.ok) {
      failure(res, verb === 'refunded' ? 'refund this booking' : 'cancel this booking');
      await loadAll();
      return;
    }
    B.showAlert($('dash-error'), '');
    const after = res.body && res.body.booking ? res.body.booking.status : verb;
    // Reload first: the notice means the tables already show the result.
    await loadAll();
    notice('Booking ' + b.reference + ' is now ' + B.statusLabel(after).toLowerCase() + '.');
  }

  async function replayEvent(ev) {
    const res = await B.api('POST', '/api/admin/payment-events/' + encodeURIComponent(ev.id) + '/replay');
    if (!res.ok) {
      failure(res, 'replay this event');
      await loadAll();
      return;
    }
    B.showAlert($('dash-error'), '');
    const outcome = res.body && res.body.outcome ? res.body.outcome : 'done';
    await loadAll();
    notice('Event ' + ev.id + ' replayed: ' + outcome + '.');
  }

  function eventRow(ev) {
    const outcome = [badge('outcome', ev.outcome, ev.outcome)];
    if (ev.detail) outcome.push(el('div', { className: 'cell-sub' }, [ev.detail]));
    const booking = ev.bookingId ? (state.references[ev.bookingId] || shortID(ev.bookingId)) : '—';
    const src = [ev.source || 'webhook'];
    if (ev.replayCount > 0) src.push(ev.replayCount === 1 ? 'replayed once' : 'replayed ' + ev.replayCount + ' times');
    const actions = el('td', { className: 'actions' });
    if (canAct()) {
      const btn = el('button', { type: 'button', className: 'btn btn-secondary btn-small' }, ['Replay']);
      btn.addEventListener('click', async function () {
        btn.disabled = true;
        btn.textContent = 'Replaying…';
        await replayEvent(ev);
      });
      actions.appendChild(btn);
    }
    return el('tr', { 'data-event': ev.id }, [
      cell('Received', 'nowrap', [localTime(ev.receivedAt)]),
      cell('Type', null, [el('span', { className: 'mono small' }, [ev.type])]),
      cell('Outcome', null, outcome),
      cell('Booking', 'mono small nowrap', [booking]),
      cell('Event', null, [el('div', { className: 'event-id', title: ev.id }, [ev.id]), el('div', { className: 'cell-sub' }, [src.join(' · ')])]),
      actions
    ]);
  }

  function emptyRow(body, cols, text) {
    body.textContent = '';
    body.appendChild(el('tr', {}, [el('td', { colspan: String(cols), className: 'table-empty' }, [text])]));
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
    const body = $('events-body');
    body.textContent = '';
    items.forEach(function (ev) { body.appendChild(eventRow(ev)); });
    if (!items.length) emptyRow(body, 6, 'No payment events yet.');
    $('events-count').textContent = String(items.length);
    return true;
  }

  async function loadMetrics() {
    if (!canAct()) return;
    const res = await B.api('GET', '/admin/metrics');
    if (!res.ok || !res.body || !res.body.webhook) return;
    const w = res.body.webhook;
    document.querySelectorAll('[data-metric]').forEach(function (n) {
      const v = w[n.getAttribute('data-metric')];
      n.textContent = typeof v === 'number' ? v.toLocaleString('en-GB') : '–';
      n.setAttribute('data-zero', v === 0 ? 'true' : 'false');
    });
    $('metrics-section').hidden = false;
  }

  async function loadResources() {
    const res = await B.api('GET', '/api/resources');
    if (res.ok && res.body) {
      (res.body.items || []).forEach(function (r) { state.resources[r.id] = r; });
    }
  }

  async function loadAll() {
    const ok = await loadBookings(false);
    const ok2 = await loadEvents();
    await loadMetrics();
    if (ok && ok2) B.showAlert($('dash-error'), '');
    $('updated-at').textContent = 'Updated ' + new Intl.DateTimeFormat('en-GB', { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' }).format(new Date());
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
    state.timer = window.setInterval(function () {
      if (document.visibilityState === 'visible' && !document.querySelector('.btn-danger-solid')) loadAll();
    }, 30000);
  }

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
