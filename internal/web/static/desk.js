// Front desk: the week calendar of a resource (bookings, holds and staff
// blocks, in the resource's time zone), a booking for a phone or walk-in
// customer (paid at the venue or by an emailed payment link), and blocks.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };
  const el = B.el;
  const HOUR = 44; // pixels per hour of the grid

  const state = { user: null, resources: [], resource: null, from: '', schedule: null, bookKey: '' };
  const canAct = function () { return state.user && (state.user.role === 'ADMIN' || state.user.role === 'OPS'); };

  function failure(res, what) {
    if (res.status === 401) {
      window.location.assign('/login?next=' + encodeURIComponent('/desk'));
      return;
    }
    const body = res.body || {};
    let msg = body.message || ('Could not ' + what + '.');
    if (res.status === 403) msg = 'Your role is not allowed to ' + what + '.';
    if (res.status === 0) msg = 'The server could not be reached.';
    B.showAlert($('desk-error'), msg + (body.requestId ? ' (Request ' + body.requestId + ')' : ''));
  }

  // Dates are local dates of the resource's zone, as YYYY-MM-DD.
  function todayIn(tz) {
    return B.formatIn(new Date(), tz, { year: 'numeric', month: '2-digit', day: '2-digit' }).split('/').reverse().join('-');
  }

  function addDays(date, n) {
    const d = new Date(date + 'T12:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  // offsetAt is the zone's offset from UTC, in minutes, at instant ms.
  function offsetAt(ms, tz) {
    const p = {};
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit' }).formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    const asUTC = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
    return Math.round((asUTC - ms) / 60000);
  }

  // zonedToISO turns a local date and time of zone tz into an RFC 3339 UTC
  // timestamp (the offset is looked up twice, for days that change it).
  function zonedToISO(date, time, tz) {
    const guess = Date.parse(date + 'T' + time + ':00Z');
    let ms = guess - offsetAt(guess, tz) * 60000;
    ms = guess - offsetAt(ms, tz) * 60000;
    return new Date(ms).toISOString().replace('.000Z', 'Z');
  }

  // minutesIn is the local time of iso in tz, in minutes after midnight,
  // and its local date.
  function localParts(iso, tz) {
    const p = {};
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    return { date: p.year + '-' + p.month + '-' + p.day, minutes: (+p.hour) * 60 + (+p.minute) };
  }

  function dayLabel(date) {
    return new Intl.DateTimeFormat('en-GB', { weekday: 'short', day: 'numeric', month: 'short', timeZone: 'UTC' })
      .format(new Date(date + 'T12:00:00Z'));
  }

  // pieces splits an entry [start, end) into its parts on each shown day.
  function pieces(startISO, endISO, tz, days) {
    const s = localParts(startISO, tz);
    const e = localParts(endISO, tz);
    const out = [];
    days.forEach(function (d, i) {
      if (d < s.date || d > e.date) return;
      const from = d === s.date ? s.minutes : 0;
      const to = d === e.date ? e.minutes : 24 * 60;
      if (to > from) out.push({ day: i, from: from, to: to });
    });
    return out;
  }

  function render() {
    const sc = state.schedule;
    const grid = $('desk-grid');
    grid.textContent = '';
    if (!sc) return;
    const tz = sc.timezone;
    const days = [];
    for (let i = 0; i < 7; i++) days.push(addDays(sc.from, i));
    const entries = [];
    sc.bookings.forEach(function (b) {
      pieces(b.startsAt, b.endsAt, tz, days).forEach(function (p) { entries.push({ p: p, b: b }); });
    });
    sc.blocks.forEach(function (k) {
      pieces(k.startsAt, k.endsAt, tz, days).forEach(function (p) { entries.push({ p: p, k: k }); });
    });
    // The hours shown: 07:00–21:00, widened to what the week holds.
    let first = 7 * 60;
    let last = 21 * 60;
    entries.forEach(function (x) { first = Math.min(first, x.p.from); last = Math.max(last, x.p.to); });
    first = Math.floor(first / 60) * 60;
    last = Math.ceil(last / 60) * 60;
    const height = (last - first) / 60 * HOUR;

    const hours = el('div', { className: 'desk-hours', 'aria-hidden': 'true' }, [el('div', { className: 'desk-day-head' }, [''])]);
    const hbody = el('div', { className: 'desk-col-body' });
    hbody.style.height = height + 'px';
    for (let m = first; m < last; m += 60) {
      const lab = el('div', { className: 'desk-hour' }, [String(m / 60).padStart(2, '0') + ':00']);
      lab.style.top = ((m - first) / 60 * HOUR) + 'px';
      hbody.appendChild(lab);
    }
    hours.appendChild(hbody);
    grid.appendChild(hours);

    const today = todayIn(tz);
    days.forEach(function (d, i) {
      const body = el('ul', { className: 'desk-col-body', 'aria-label': dayLabel(d) });
      body.style.height = height + 'px';
      entries.filter(function (x) { return x.p.day === i; }).forEach(function (x) {
        body.appendChild(entry(x, first, tz));
      });
      if (!body.children.length) body.appendChild(el('li', { className: 'visually-hidden' }, ['Nothing booked.']));
      grid.appendChild(el('div', { className: 'desk-col', 'data-today': d === today ? 'true' : 'false' }, [
        el('h3', { className: 'desk-day-head' }, [dayLabel(d)]), body
      ]));
    });
    grid.setAttribute('aria-busy', 'false');
  }

  function entry(x, first, tz) {
    const top = (x.p.from - first) / 60 * HOUR;
    const h = Math.max((x.p.to - x.p.from) / 60 * HOUR, 18);
    let node;
    if (x.b) {
      const b = x.b;
      const kind = b.status === 'confirmed' ? 'confirmed' : (b.status === 'needs_review' ? 'needs_review' : 'pending');
      const what = B.timeIn(b.startsAt, tz) + '–' + B.timeIn(b.endsAt, tz) + ' ' + b.customer +
        (b.quantity > 1 ? ' × ' + b.quantity : '');
      const sub = b.status === 'pending' ? 'held until ' + B.timeIn(b.holdExpiresAt, tz) : (b.paidOffline ? 'paid at the venue' : B.statusLabel(b.status));
      node = el('li', { className: 'desk-entry', 'data-kind': kind, 'data-booking': b.id }, [
        el('a', { href: '/dashboard#booking/' + b.id }, [el('span', { className: 'desk-entry-main' }, [what]),
          el('span', { className: 'desk-entry-sub' }, [b.reference + ' · ' + sub])])
      ]);
    } else {
      const k = x.k;
      const kids = [el('span', { className: 'desk-entry-main' }, [B.timeIn(k.startsAt, tz) + '–' + B.timeIn(k.endsAt, tz) + ' Blocked']),
        el('span', { className: 'desk-entry-sub' }, [k.reason || 'No reason given'])];
      if (canAct()) {
        const del = el('button', { type: 'button', className: 'desk-entry-del', 'aria-label': 'Remove this block' }, ['×']);
        del.addEventListener('click', function () { removeBlock(k); });
        kids.push(del);
      }
      node = el('li', { className: 'desk-entry', 'data-kind': 'block', 'data-block': k.id }, kids);
    }
    node.style.top = top + 'px';
    node.style.height = h + 'px';
    return node;
  }

  async function loadWeek() {
    const r = state.resource;
    if (!r) return;
    $('desk-grid').setAttribute('aria-busy', 'true');
    const res = await B.api('GET', '/api/admin/resources/' + encodeURIComponent(r.id) + '/schedule?days=7&from=' + state.from);
    if (!res.ok || !res.body) {
      failure(res, 'load the week');
      return;
    }
    state.schedule = res.body;
    $('desk-sub').textContent = r.name + ' · ' + dayLabel(res.body.from) + ' – ' + dayLabel(res.body.to) + ' (' + res.body.timezone + ')';
    render();
  }

  async function loadTimes() {
    const r = state.resource;
    const date = $('db-date').value;
    const sel = $('db-time');
    sel.textContent = '';
    if (!r || !date) return;
    const res = await B.api('GET', '/api/resources/' + encodeURIComponent(r.id) + '/availability?date=' + date);
    const slots = res.ok && res.body ? (res.body.slots || []) : [];
    slots.forEach(function (s) {
      const left = r.capacity > 1 ? ' (' + s.placesLeft + ' left)' : '';
      sel.appendChild(el('option', { value: s.startsAt }, [B.timeIn(s.startsAt, r.timezone) + left]));
    });
    if (!slots.length) sel.appendChild(el('option', { value: '' }, ['No free time this day']));
  }

  async function submitBooking(ev) {
    ev.preventDefault();
    const form = $('desk-book');
    B.clearFieldErrors(form);
    B.showAlert($('desk-error'), '');
    const pay = form.querySelector('input[name="db-pay"]:checked').value;
    const body = {
      resourceId: state.resource.id, startsAt: $('db-time').value, payment: pay,
      customer: { firstName: $('db-first').value.trim(), lastName: $('db-last').value.trim(), email: $('db-email').value.trim() },
      note: $('db-note').value
    };
    if (state.resource.capacity > 1) body.quantity = parseInt($('db-qty').value, 10) || 1;
    // One key per filled-in form: a double click or a retry books once.
    if (!state.bookKey) state.bookKey = B.randomKey();
    $('db-submit').disabled = true;
    const res = await B.api('POST', '/api/admin/desk/bookings', body, { 'Idempotency-Key': state.bookKey });
    $('db-submit').disabled = false;
    if (!res.ok) {
      if (res.status === 422 && res.body && res.body.fields) {
        const rest = B.showFieldErrors(form, res.body.fields);
        if (Object.keys(rest).length) failure(res, 'book');
      } else {
        failure(res, 'book');
      }
      if (res.status !== 0 && res.status < 500) state.bookKey = '';
      return;
    }
    state.bookKey = '';
    const b = res.body.booking;
    B.showAlert($('desk-notice'), 'Booking ' + b.reference + (pay === 'venue' ? ' is confirmed, paid at the venue.' :
      ' is held; the payment link was sent to ' + b.customer.email + '.'));
    form.reset();
    $('db-date').value = state.lastDate;
    await Promise.all([loadWeek(), loadTimes()]);
  }

  async function submitBlock(ev) {
    ev.preventDefault();
    const form = $('desk-block');
    B.clearFieldErrors(form);
    B.showAlert($('desk-error'), '');
    const tz = state.resource.timezone;
    const date = $('bk-date').value;
    if (!date || !$('bk-from').value || !$('bk-to').value) {
      B.showFieldErrors(form, { startsAt: 'Give the day and the times.' });
      return;
    }
    const body = { startsAt: zonedToISO(date, $('bk-from').value, tz), endsAt: zonedToISO(date, $('bk-to').value, tz),
      reason: $('bk-reason').value.trim() };
    $('bk-submit').disabled = true;
    const res = await B.api('POST', '/api/admin/resources/' + encodeURIComponent(state.resource.id) + '/blocks', body);
    $('bk-submit').disabled = false;
    if (!res.ok) {
      if (res.status === 422 && res.body && res.body.fields) B.showFieldErrors(form, res.body.fields);
      else failure(res, 'block this time');
      return;
    }
    B.showAlert($('desk-notice'), 'Blocked ' + $('bk-from').value + '–' + $('bk-to').value + ' on ' + dayLabel(date) + '.');
    await Promise.all([loadWeek(), loadTimes()]);
  }

  async function removeBlock(k) {
    const res = await B.api('DELETE', '/api/admin/resources/' + encodeURIComponent(state.resource.id) + '/blocks/' + encodeURIComponent(k.id));
    if (!res.ok && res.status !== 204) {
      failure(res, 'remove this block');
      return;
    }
    B.showAlert($('desk-notice'), 'The block is removed; its time can be booked again.');
    await Promise.all([loadWeek(), loadTimes()]);
  }

  function chooseResource(id) {
    state.resource = state.resources.find(function (r) { return r.id === id; }) || state.resources[0];
    if (!state.resource) return;
    const today = todayIn(state.resource.timezone);
    state.from = today;
    state.lastDate = today;
    $('db-date').value = today;
    $('bk-date').value = today;
    $('db-qty-field').hidden = !(state.resource.capacity > 1);
    $('db-qty').max = String(state.resource.capacity || 1);
    loadWeek();
    loadTimes();
  }

  async function init() {
    const me = await B.api('GET', '/auth/me');
    if (!me.ok || !me.body || !me.body.user) {
      failure(me, 'load your account');
      return;
    }
    state.user = me.body.user;
    $('user-email').textContent = state.user.email;
    $('user-role').textContent = state.user.role;
    $('header-user').hidden = false;
    $('desk-book').hidden = !canAct();
    $('desk-block').hidden = !canAct();
    const res = await B.api('GET', '/api/admin/resources');
    if (!res.ok || !res.body) {
      failure(res, 'load the resources');
      return;
    }
    state.resources = (res.body.items || []).filter(function (r) { return r.active !== false; });
    const sel = $('desk-resource');
    state.resources.forEach(function (r) { sel.appendChild(el('option', { value: r.id }, [r.name])); });
    if (!state.resources.length) {
      $('desk-sub').textContent = 'No resource yet: an ADMIN creates one in Settings.';
      return;
    }
    chooseResource(state.resources[0].id);
  }

  $('desk-resource').addEventListener('change', function () { chooseResource($('desk-resource').value); });
  $('desk-prev').addEventListener('click', function () { state.from = addDays(state.from, -7); loadWeek(); });
  $('desk-next').addEventListener('click', function () { state.from = addDays(state.from, 7); loadWeek(); });
  $('desk-today').addEventListener('click', function () { state.from = todayIn(state.resource.timezone); loadWeek(); });
  $('db-date').addEventListener('change', function () { state.lastDate = $('db-date').value; loadTimes(); });
  $('desk-book').addEventListener('input', function (e) { if (e.target.id !== 'db-date') state.bookKey = ''; });
  $('desk-book').addEventListener('submit', submitBooking);
  $('desk-block').addEventListener('submit', submitBlock);
  $('logout').addEventListener('click', async function () {
    await B.api('POST', '/auth/logout');
    window.location.assign('/login');
  });

  init();
})();
