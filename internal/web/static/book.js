// Booking page: choose a resource, a day and a free slot, enter your details,
// then go to the checkout page.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };

  const form = $('booking-form');
  const resourceSel = $('resource');
  const dateInput = $('date');
  const slotsBox = $('slots');
  const submitBtn = $('submit');
  const formError = $('form-error');

  const state = { resources: [], resource: null, date: '', slots: [], slot: '', seq: 0, busy: false, month: '', monthSeq: 0 };

  function todayIn(tz) {
    return B.formatIn(new Date(), tz, { year: 'numeric', month: '2-digit', day: '2-digit' })
      .split('/').reverse().join('-');
  }

  function addDays(date, n) {
    const p = date.split('-').map(Number);
    const d = new Date(Date.UTC(p[0], p[1] - 1, p[2] + n));
    return d.toISOString().slice(0, 10);
  }

  function longDate(date) {
    const p = date.split('-').map(Number);
    return B.formatIn(new Date(Date.UTC(p[0], p[1] - 1, p[2], 12)), 'UTC', { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
  }

  function durationText(min) {
    if (min % 60 === 0) return (min / 60) + (min === 60 ? ' hour' : ' hours');
    if (min > 60) return Math.floor(min / 60) + ' h ' + (min % 60) + ' min';
    return min + ' minutes';
  }

  function updateSummary() {
    const r = state.resource;
    $('sum-resource').textContent = r ? r.name : '—';
    $('sum-date').textContent = state.date ? longDate(state.date) : '—';
    const slot = state.slots.find(function (s) { return s.startsAt === state.slot; });
    $('sum-time').textContent = slot ? B.timeIn(slot.startsAt, r.timezone) + '–' + B.timeIn(slot.endsAt, r.timezone) : 'Choose a time';
    $('sum-total').textContent = r ? B.money(r.priceAmount, r.currency) : '—';
  }

  function showResource() {
    const r = state.resource;
    $('resource-desc').textContent = r ? r.description : '';
    $('resource-facts').hidden = !r;
    if (!r) return;
    $('fact-price').textContent = B.money(r.priceAmount, r.currency);
    $('fact-duration').textContent = durationText(r.durationMinutes);
    $('fact-tz').textContent = r.timezone;
    dateInput.min = todayIn(r.timezone);
  }

  async function fetchSlots(date) {
    const res = await B.api('GET', '/api/resources/' + encodeURIComponent(state.resource.id) + '/availability?date=' + encodeURIComponent(date));
    if (!res.ok || !res.body) return null;
    return res.body.slots || [];
  }

  function renderSlots() {
    slotsBox.textContent = '';
    slotsBox.setAttribute('aria-busy', 'false');
    $('slots-day').textContent = state.date ? '· ' + longDate(state.date) : '';
    if (!state.slots.length) {
      slotsBox.appendChild(B.el('p', { className: 'slots-empty', text: 'No free times on this day. Try the next day.' }));
      return;
    }
    state.slots.forEach(function (s, i) {
      const id = 'slot-' + i;
      const input = B.el('input', { type: 'radio', name: 'slot', id: id, value: s.startsAt });
      input.checked = s.startsAt === state.slot;
      input.addEventListener('change', function () {
        state.slot = s.startsAt;
        B.showAlert(formError, '');
        $('err-startsAt').hidden = true;
        updateSummary();
      });
      const label = B.el('label', { for: id, title: B.timeIn(s.startsAt, state.resource.timezone) + '–' + B.timeIn(s.endsAt, state.resource.timezone) }, [B.timeIn(s.startsAt, state.resource.timezone)]);
      const parts = [input, label];
      // A resource with places (a class) shows how many are left.
      if ((state.resource.capacity || 1) > 1) {
        const n = s.placesLeft || 0;
        parts.push(B.el('span', { className: 'slot-places' + (n <= 3 ? ' is-low' : ''), text: n === 1 ? '1 place left' : n + ' places left' }));
      }
      slotsBox.appendChild(B.el('div', { className: 'slot' }, parts));
    });
  }

  // The month calendar: one request per month (the month view), each day
  // a button, greyed out and disabled when full, closed, past or beyond
  // the booking horizon.
  const dayNames = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
  const dayWhy = { full: 'full', closed: 'closed', past: 'no longer bookable', beyond_horizon: 'not bookable yet' };

  function monthOf(date) { return date.slice(0, 7); }

  function shiftMonth(month, n) {
    const p = month.split('-').map(Number);
    return new Date(Date.UTC(p[0], p[1] - 1 + n, 1)).toISOString().slice(0, 7);
  }

  function lastDay(month) {
    const p = month.split('-').map(Number);
    return new Date(Date.UTC(p[0], p[1], 0)).toISOString().slice(0, 10);
  }

  async function loadMonth(month) {
    if (!state.resource) return;
    state.month = month;
    const seq = ++state.monthSeq;
    const grid = $('month-grid');
    const p = month.split('-').map(Number);
    $('month-title').textContent = B.formatIn(new Date(Date.UTC(p[0], p[1] - 1, 15)), 'UTC', { month: 'long', year: 'numeric' });
    $('prev-month').disabled = month <= monthOf(todayIn(state.resource.timezone));
    $('month').setAttribute('aria-busy', 'true');
    const res = await B.api('GET', '/api/resources/' + encodeURIComponent(state.resource.id) + '/availability?from=' +
      month + '-01&to=' + lastDay(month));
    if (seq !== state.monthSeq) return;
    grid.textContent = '';
    dayNames.forEach(function (n) { grid.appendChild(B.el('span', { className: 'month-dow', text: n })); });
    const days = (res.ok && res.body && res.body.days) || [];
    const first = new Date(Date.UTC(p[0], p[1] - 1, 1)).getUTCDay();
    for (let i = 0; i < (first + 6) % 7; i++) grid.appendChild(B.el('span', { className: 'month-day is-blank' }));
    const many = (state.resource.capacity || 1) > 1;
    days.forEach(function (d) {
      const free = d.status === 'available';
      const n = many ? d.placesLeft : d.freeSlots;
      const note = free ? (n + (many ? (n === 1 ? ' place' : ' places') : (n === 1 ? ' time' : ' times'))) : dayWhy[d.status] || '';
      const btn = B.el('button', { type: 'button', className: 'month-day' + (free ? ' is-free' : '') + (d.date === state.date ? ' is-selected' : ''),
        title: longDate(d.date) + ': ' + note }, [String(Number(d.date.slice(8))), B.el('small', { text: free ? String(n) : '' })]);
      btn.dataset.date = d.date;
      btn.dataset.status = d.status;
      btn.setAttribute('aria-label', longDate(d.date) + ', ' + note);
      btn.disabled = !free;
      btn.addEventListener('click', function () { loadDay(d.date); });
      grid.appendChild(btn);
    });
    $('month').setAttribute('aria-busy', 'false');
  }

  function markMonth() {
    if (state.date && monthOf(state.date) !== state.month) {
      loadMonth(monthOf(state.date));
      return;
    }
    Array.prototype.forEach.call($('month-grid').querySelectorAll('.month-day'), function (b) {
      b.classList.toggle('is-selected', b.dataset.date === state.date);
    });
  }

  // loadDay shows the free slots of date; stale answers are dropped.
  async function loadDay(date) {
    state.date = date;
    dateInput.value = date;
    markMonth();
    $('prev-day').disabled = date <= todayIn(state.resource.timezone);
    const seq = ++state.seq;
    slotsBox.setAttribute('aria-busy', 'true');
    const slots = await fetchSlots(date);
    if (seq !== state.seq) return;
    if (slots === null) {
      state.slots = [];
      slotsBox.textContent = '';
      slotsBox.appendChild(B.el('p', { className: 'slots-empty', text: 'We could not load the free times. Please try again.' }));
      return;
    }
    state.slots = slots;
    if (!slots.some(function (s) { return s.startsAt === state.slot; })) state.slot = '';
    renderSlots();
    updateSummary();
  }

  // firstOpenDay looks up to two weeks ahead for a day with free slots.
  async function firstOpenDay() {
    const start = todayIn(state.resource.timezone);
    for (let i = 0; i < 14; i++) {
      const d = addDays(start, i);
      const slots = await fetchSlots(d);
      if (slots === null) return start;
      if (slots.length) return d;
    }
    return start;
  }

  async function selectResource(id) {
    state.resource = state.resources.find(function (r) { return r.id === id; }) || null;
    state.slot = '';
    showResource();
    updateSummary();
    if (!state.resource) return;
    state.seq++;
    state.month = '';
    await loadDay(await firstOpenDay());
  }

  async function init() {
    const res = await B.api('GET', '/api/resources');
    if (!res.ok || !res.body) {
      B.showAlert($('load-error'), 'We could not load what can be booked. Please reload the page.');
      return;
    }
    state.resources = res.body.items || [];
    resourceSel.textContent = '';
    if (!state.resources.length) {
      resourceSel.appendChild(B.el('option', { value: '', text: 'Nothing to book right now' }));
      B.showAlert($('load-error'), 'Nothing is open for booking right now. Please come back later.');
      submitBtn.disabled = true;
      return;
    }
    state.resources.forEach(function (r) {
      resourceSel.appendChild(B.el('option', { value: r.id, text: r.name + ' · ' + B.money(r.priceAmount, r.currency) }));
    });
    const wanted = new URLSearchParams(location.search).get('resource');
    const first = state.resources.find(function (r) { return r.id === wanted || r.slug === wanted; }) || state.resources[0];
    resourceSel.value = first.id;
    await selectResource(first.id);
  }

  resourceSel.addEventListener('change', function () { selectResource(resourceSel.value); });
  dateInput.addEventListener('change', function () {
    if (dateInput.value && state.resource) loadDay(dateInput.value);
  });
  $('prev-day').addEventListener('click', function () {
    if (state.date && state.resource) loadDay(addDays(state.date, -1));
  });
  $('next-day').addEventListener('click', function () {
    if (state.date && state.resource) loadDay(addDays(state.date, 1));
  });
  $('prev-month').addEventListener('click', function () {
    if (state.month) loadMonth(shiftMonth(state.month, -1));
  });
  $('next-month').addEventListener('click', function () {
    if (state.month) loadMonth(shiftMonth(state.month, 1));
  });

  function setBusy(busy, text) {
    state.busy = busy;
    submitBtn.disabled = busy;
    submitBtn.textContent = text || 'Continue to payment';
    form.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    if (state.busy) return;
    B.clearFieldErrors(form);
    B.showAlert(formError, '');
    const customer = {
      firstName: $('firstName').value.trim(),
      lastName: $('lastName').value.trim(),
      email: $('email').value.trim()
    };
    const missing = {};
    if (!state.slot) missing.startsAt = 'Choose a time.';
    if (!customer.firstName) missing['customer.firstName'] = 'Required.';
    if (!customer.lastName) missing['customer.lastName'] = 'Required.';
    if (!customer.email) missing['customer.email'] = 'Required.';
    if (Object.keys(missing).length) {
      B.showFieldErrors(form, missing);
      return;
    }
    setBusy(true, 'Holding your slot…');
    const res = await B.api('POST', '/api/bookings',
      { resourceId: state.resource.id, startsAt: state.slot, customer: customer },
      { 'Idempotency-Key': B.randomKey() });
    if (res.status === 201 && res.body && res.body.checkoutUrl) {
      setBusy(true, 'Opening the payment page…');
      window.location.assign(res.body.checkoutUrl);
      return;
    }
    setBusy(false);
    const body = res.body || {};
    switch (res.status) {
      case 0:
        B.showAlert(formError, 'We could not reach the server. Check your connection and try again.');
        break;
      case 409:
        B.showAlert(formError, 'Sorry, that time was just taken by someone else. Please pick another time.');
        state.slot = '';
        state.month = '';
        await loadDay(state.date);
        break;
      case 422: {
        const rest = B.showFieldErrors(form, body.fields || {});
        const others = Object.keys(rest).map(function (k) { return rest[k]; });
        if (others.length || !body.fields) B.showAlert(formError, others.length ? others.join(' ') : (body.message || 'Please check the form.'));
        break;
      }
      case 429:
        B.showAlert(formError, 'Too many attempts. Please wait a minute and try again.');
        break;
      default:
        B.showAlert(formError, (body.message || 'Something went wrong on our side.') +
          (body.requestId ? ' (Reference ' + body.requestId + ')' : '') + ' Please try again.');
    }
  });

  init();
})();
