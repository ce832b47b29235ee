// Staff settings (ADMIN): resources with their rules, closed days and
// calendar feed; API keys; outgoing webhook endpoints with their delivery
// log. Tokens, secrets and feed URLs are shown once in a read-only box and
// are never put in an address or logged.
(function () {
  'use strict';
  const B = window.Booking;
  const $ = function (id) { return document.getElementById(id); };
  const el = B.el;

  const state = { user: null, resources: [], resourceID: '', keys: [], endpoints: [], endpointID: '' };

  // The rule fields of PATCH /api/admin/resources/{id} the form edits; all
  // but the name are whole numbers.
  const ruleFields = ['name', 'durationMinutes', 'priceAmount', 'capacity', 'slotIntervalMinutes',
    'bufferBeforeMinutes', 'bufferAfterMinutes', 'minNoticeMinutes', 'maxAdvanceDays'];

  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent('/settings'));
  }

  function notice(text) {
    B.showAlert($('settings-notice'), text);
  }

  // message is what a refused request shows: the API's message and its
  // request id.
  function message(res, what) {
    const body = res.body || {};
    let msg;
    if (res.status === 403) msg = 'Your role is not allowed to ' + what + '.';
    else if (res.status === 0) msg = 'The server could not be reached.';
    else msg = body.message || ('Could not ' + what + '.');
    return msg + (body.requestId ? ' (Request ' + body.requestId + ')' : '');
  }

  // failure shows a refused request in node (the page's error by default);
  // a lost session goes back to the sign-in page.
  function failure(res, what, node) {
    if (res.status === 401) {
      toLogin();
      return;
    }
    B.showAlert(node || $('settings-error'), message(res, what));
  }

  // formFailure shows a 422's field errors under their fields (focusing the
  // first) and anything else in the form's alert.
  function formFailure(form, alertNode, res, what) {
    if (res.status === 401) {
      toLogin();
      return;
    }
    const body = res.body || {};
    if (res.status === 422 && body.fields) {
      const rest = B.showFieldErrors(form, body.fields);
      const others = Object.keys(rest).map(function (k) { return k + ': ' + rest[k]; });
      B.showAlert(alertNode, others.length ? others.join(' ') : '');
      return;
    }
    B.showAlert(alertNode, message(res, what));
  }

  function localTime(iso) {
    if (!iso) return '—';
    return new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));
  }

  function cell(label, className, children) {
    return el('td', { 'data-label': label, className: className || null }, [el('div', {}, children)]);
  }

  // markCurrent marks the table row of the resource or endpoint shown below.
  function markCurrent(row, on) {
    if (on) row.setAttribute('aria-current', 'true');
    else row.removeAttribute('aria-current');
  }

  function emptyRow(cols, text) {
    return el('tr', {}, [el('td', { colspan: String(cols), className: 'table-empty' }, [text])]);
  }

  function setRows(body, rows, cols, empty) {
    body.replaceChildren.apply(body, rows.length ? rows : [emptyRow(cols, empty)]);
  }

  function badge(kind, value, text) {
    const attrs = { className: 'badge' };
    attrs['data-' + kind] = value;
    return el('span', attrs, [text]);
  }

  // showSecret puts a value shown once into its read-only box.
  function showSecret(boxID, inputID, value) {
    const input = $(inputID);
    input.value = value;
    $(boxID).hidden = false;
    input.focus();
    input.select();
  }

  function hideSecret(boxID) {
    const box = $(boxID);
    box.querySelectorAll('input').forEach(function (i) { i.value = ''; });
    box.hidden = true;
  }

  document.querySelectorAll('[data-copy]').forEach(function (btn) {
    btn.addEventListener('click', async function () {
      const input = $(btn.getAttribute('data-copy'));
      input.focus();
      input.select();
      try {
        await navigator.clipboard.writeText(input.value);
        notice('Copied to the clipboard.');
      } catch (e) {
        notice('Selected: press Ctrl+C (or ⌘C) to copy.');
      }
    });
  });
  document.querySelectorAll('[data-dismiss]').forEach(function (btn) {
    btn.addEventListener('click', function () { hideSecret(btn.getAttribute('data-dismiss')); });
  });

  // ---------------------------------------------------------------- Resources

  function currentResource() {
    return state.resources.find(function (r) { return r.id === state.resourceID; }) || null;
  }

  function resourceRow(r) {
    const edit = el('button', { type: 'button', className: 'btn btn-secondary btn-small', 'data-edit': r.id,
      'aria-label': 'Edit ' + r.name, 'aria-controls': 'resource-detail', 'aria-expanded': r.id === state.resourceID ? 'true' : 'false' }, ['Edit']);
    edit.addEventListener('click', function () { selectResource(r.id, true); });
    return el('tr', { 'data-resource': r.id, 'aria-current': r.id === state.resourceID ? 'true' : null }, [
      cell('Resource', null, [el('div', { className: 'cell-main' }, [r.name]), el('div', { className: 'cell-sub mono' }, [r.slug])]),
      cell('Duration', 'num nowrap', [r.durationMinutes + ' min']),
      cell('Price', 'num nowrap', [B.money(r.priceAmount, r.currency)]),
      cell('Places', 'num', [String(r.capacity)]),
      cell('Status', null, [badge('active', r.active ? 'yes' : 'no', r.active ? 'Active' : 'Inactive')]),
      cell('Calendar feed', null, [r.calendarFeed ? 'On' : 'Off']),
      el('td', { className: 'actions' }, [edit])
    ]);
  }

  async function loadResources() {
    const res = await B.api('GET', '/api/admin/resources');
    if (!res.ok) {
      failure(res, 'load the resources');
      return false;
    }
    state.resources = res.body.items || [];
    $('resources-count').textContent = '(' + state.resources.length + ')';
    setRows($('resources-body'), state.resources.map(resourceRow), 7, 'No resources.');
    if (state.resourceID) showResource(false);
    return true;
  }

  function priceHint() {
    const r = currentResource();
    const v = $('rule-priceAmount').value;
    const n = Number(v);
    $('hint-rule-priceAmount').textContent = r && v !== '' && Number.isInteger(n) && n > 0
      ? 'In the smallest unit of ' + r.currency.toUpperCase() + ': ' + B.money(n, r.currency) + '.'
      : 'In the smallest unit of the currency (cents).';
  }

  // fillRules puts the resource's current rules into the form.
  function fillRules(r) {
    ruleFields.forEach(function (f) { $('rule-' + f).value = r[f]; });
    priceHint();
  }

  function renderOverrides(r) {
    const rows = (r.overrides || []).slice().sort(function (a, b) { return a.from < b.from ? -1 : 1; }).map(function (o) {
      const dates = o.to && o.to !== o.from ? o.from + ' – ' + o.to : o.from;
      const hours = o.closed ? [badge('closed', 'yes', 'Closed')] : [(o.hours || []).map(function (h) { return h.start + '–' + h.end; }).join(', ')];
      const del = B.confirmButton('Delete', 'Confirm delete', 'danger', function () { return deleteOverride(r, o); });
      del.setAttribute('aria-label', 'Delete ' + dates);
      return el('tr', { 'data-override': o.id }, [
        cell('Dates', 'nowrap', [dates]),
        cell('Hours', null, hours),
        cell('Note', null, [o.note || '—']),
        el('td', { className: 'actions' }, [del])
      ]);
    });
    setRows($('overrides-body'), rows, 4, 'No closed days or special hours.');
  }

  // showResource shows the selected resource; fill resets its form.
  function showResource(fill) {
    const r = currentResource();
    if (!r) {
      $('resource-detail').hidden = true;
      return;
    }
    $('resource-name').textContent = r.name;
    $('resource-sub').textContent = r.slug + ' · ' + r.timezone + ' · ' + r.currency.toUpperCase() + (r.active ? '' : ' · inactive');
    $('feed-state').textContent = r.calendarFeed ? 'This resource has a calendar feed.' : 'This resource has no calendar feed yet.';
    if (fill) {
      B.clearFieldErrors($('rules-form'));
      B.showAlert($('rules-error'), '');
      fillRules(r);
      hideSecret('feed-secret');
    }
    renderOverrides(r);
    $('resource-detail').hidden = false;
  }

  function selectResource(id, focus) {
    state.resourceID = id;
    document.querySelectorAll('#resources-body [data-edit]').forEach(function (b) {
      b.setAttribute('aria-expanded', b.getAttribute('data-edit') === id ? 'true' : 'false');
      markCurrent(b.closest('tr'), b.getAttribute('data-edit') === id);
    });
    showResource(true);
    if (focus) $('resource-title').focus();
  }

  $('rule-priceAmount').addEventListener('input', priceHint);

  $('rules-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const r = currentResource();
    if (!r) return;
    const form = $('rules-form');
    B.clearFieldErrors(form);
    B.showAlert($('rules-error'), '');
    const patch = {};
    const local = {};
    ruleFields.forEach(function (f) {
      const v = $('rule-' + f).value.trim();
      if (f === 'name') {
        patch.name = v;
        return;
      }
      const n = Number(v);
      if (v === '' || !Number.isInteger(n)) local[f] = 'Enter a whole number.';
      else patch[f] = n;
    });
    if (Object.keys(local).length) {
      B.showFieldErrors(form, local);
      return;
    }
    $('rules-save').disabled = true;
    const res = await B.api('PATCH', '/api/admin/resources/' + encodeURIComponent(r.id), patch);
    $('rules-save').disabled = false;
    if (!res.ok) {
      formFailure(form, $('rules-error'), res, 'save the rules');
      return;
    }
    B.showAlert($('settings-error'), '');
    await loadResources();
    fillRules(currentResource() || res.body.resource);
    notice('Rules of ' + res.body.resource.name + ' saved.');
  });

  $('override-form').querySelectorAll('[name="override-kind"]').forEach(function (radio) {
    radio.addEventListener('change', function () { $('override-hours').hidden = $('override-closed').checked; });
  });

  $('override-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const r = currentResource();
    if (!r) return;
    const form = $('override-form');
    B.clearFieldErrors(form);
    B.showAlert($('override-error'), '');
    const closed = $('override-closed').checked;
    const body = { from: $('override-from').value, to: $('override-to').value, closed: closed,
      hours: closed ? [] : [{ start: $('override-start').value, end: $('override-end').value }], note: $('override-note').value };
    $('override-add').disabled = true;
    const res = await B.api('POST', '/api/admin/resources/' + encodeURIComponent(r.id) + '/overrides', body);
    $('override-add').disabled = false;
    if (!res.ok) {
      formFailure(form, $('override-error'), res, 'add the dates');
      return;
    }
    form.reset();
    $('override-hours').hidden = true;
    await loadResources();
    const o = res.body.override;
    notice((o.closed ? 'Closed' : 'Special hours') + ' from ' + o.from + (o.to !== o.from ? ' to ' + o.to : '') + ' added to ' + r.name + '.');
  });

  async function deleteOverride(r, o) {
    const res = await B.api('DELETE', '/api/admin/resources/' + encodeURIComponent(r.id) + '/overrides/' + encodeURIComponent(o.id));
    if (!res.ok) {
      failure(res, 'delete these dates');
      await loadResources();
      return;
    }
    B.showAlert($('settings-error'), '');
    await loadResources();
    notice('Dates from ' + o.from + ' deleted from ' + r.name + '.');
    $('override-from').focus();
  }

  $('feed-new').addEventListener('click', async function () {
    const r = currentResource();
    if (!r) return;
    $('feed-new').disabled = true;
    const res = await B.api('POST', '/api/admin/resources/' + encodeURIComponent(r.id) + '/calendar-key');
    $('feed-new').disabled = false;
    if (!res.ok) {
      failure(res, 'make a new feed URL');
      return;
    }
    B.showAlert($('settings-error'), '');
    await loadResources();
    showSecret('feed-secret', 'feed-url', res.body.url);
    notice('New calendar feed URL for ' + r.name + ' made; the old one no longer works.');
  });

  // ---------------------------------------------------------------- API keys

  function keyRow(k) {
    const revoked = !!k.revokedAt;
    const actions = el('td', { className: 'actions' });
    if (!revoked) {
      const btn = B.confirmButton('Revoke', 'Confirm revoke', 'danger', function () { return revokeKey(k); });
      btn.setAttribute('aria-label', 'Revoke ' + k.name);
      btn.setAttribute('data-revoke', k.id);
      actions.appendChild(btn);
    }
    return el('tr', { 'data-key': k.id }, [
      cell('Name', null, [el('div', { className: 'cell-main' }, [k.name]), el('div', { className: 'cell-sub mono' }, [k.prefix + '…'])]),
      cell('Scopes', null, [(k.scopes || []).join(', ')]),
      cell('Created', 'nowrap cell-sub', [localTime(k.createdAt)]),
      cell('Last used', 'nowrap cell-sub', [k.lastUsedAt ? localTime(k.lastUsedAt) : 'Never']),
      cell('Status', null, [revoked ? badge('key', 'revoked', 'Revoked ' + localTime(k.revokedAt)) : badge('key', 'active', 'Active')]),
      actions
    ]);
  }

  async function loadKeys() {
    const res = await B.api('GET', '/api/admin/api-keys');
    if (!res.ok) {
      failure(res, 'load the API keys');
      return false;
    }
    state.keys = res.body.items || [];
    $('keys-count').textContent = '(' + state.keys.length + ')';
    setRows($('keys-body'), state.keys.map(keyRow), 6, 'No API keys yet.');
    return true;
  }

  async function revokeKey(k) {
    const res = await B.api('DELETE', '/api/admin/api-keys/' + encodeURIComponent(k.id));
    await loadKeys();
    if (!res.ok) {
      failure(res, 'revoke this key');
      return;
    }
    B.showAlert($('settings-error'), '');
    notice('Key “' + k.name + '” revoked; it no longer works.');
    $('key-name').focus();
  }

  $('key-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const form = $('key-form');
    B.clearFieldErrors(form);
    B.showAlert($('key-error'), '');
    const scope = form.querySelector('[name="key-scope"]:checked');
    $('key-create').disabled = true;
    const res = await B.api('POST', '/api/admin/api-keys', { name: $('key-name').value, scopes: scope ? [scope.value] : [] });
    $('key-create').disabled = false;
    if (!res.ok) {
      formFailure(form, $('key-error'), res, 'create the key');
      return;
    }
    form.reset();
    await loadKeys();
    notice('Key “' + res.body.apiKey.name + '” created. Copy its token now: it will not be shown again.');
    showSecret('key-secret', 'key-token', res.body.token);
  });

  // ---------------------------------------------------------------- Webhooks

  function currentEndpoint() {
    return state.endpoints.find(function (e) { return e.id === state.endpointID; }) || null;
  }

  function endpointState(e) {
    if (!e.enabled) return badge('endpoint', 'disabled', 'Disabled');
    if (e.failing) return badge('endpoint', 'failing', 'Failing since ' + localTime(e.failingSince));
    return badge('endpoint', 'enabled', 'Enabled');
  }

  function endpointRow(e) {
    const manage = el('button', { type: 'button', className: 'btn btn-secondary btn-small', 'data-manage': e.id,
      'aria-label': 'Manage ' + e.url, 'aria-controls': 'hook-detail', 'aria-expanded': e.id === state.endpointID ? 'true' : 'false' }, ['Manage']);
    manage.addEventListener('click', function () { selectEndpoint(e.id, true); });
    return el('tr', { 'data-endpoint': e.id, 'aria-current': e.id === state.endpointID ? 'true' : null }, [
      cell('URL', null, [el('div', { className: 'mono small break' }, [e.url])]),
      cell('Events', null, [el('div', { className: 'small' }, [(e.events || []).join(', ')])]),
      cell('State', null, [endpointState(e)]),
      el('td', { className: 'actions' }, [manage])
    ]);
  }

  async function loadEndpoints() {
    const res = await B.api('GET', '/api/admin/webhook-endpoints');
    if (!res.ok) {
      failure(res, 'load the webhook endpoints');
      return false;
    }
    state.endpoints = res.body.items || [];
    $('hooks-count').textContent = '(' + state.endpoints.length + ')';
    setRows($('hooks-body'), state.endpoints.map(endpointRow), 4, 'No webhook endpoints yet.');
    if (state.endpointID) showEndpoint(false);
    return true;
  }

  function checkedEvents(name) {
    return Array.from(document.querySelectorAll('[name="' + name + '"]:checked'), function (c) { return c.value; });
  }

  function showEndpoint(fill) {
    const e = currentEndpoint();
    if (!e) {
      $('hook-detail').hidden = true;
      return;
    }
    $('hook-detail-url').textContent = e.url;
    $('hook-detail-state').replaceChildren(endpointState(e), ' Created ' + localTime(e.createdAt) + '.');
    $('hook-toggle').textContent = e.enabled ? 'Disable' : 'Enable';
    if (fill) {
      B.clearFieldErrors($('hook-events-form'));
      B.showAlert($('hook-events-error'), '');
      document.querySelectorAll('[name="hook-edit-event"]').forEach(function (c) { c.checked = (e.events || []).indexOf(c.value) >= 0; });
    }
    $('hook-detail').hidden = false;
  }

  async function selectEndpoint(id, focus) {
    state.endpointID = id;
    document.querySelectorAll('#hooks-body [data-manage]').forEach(function (b) {
      b.setAttribute('aria-expanded', b.getAttribute('data-manage') === id ? 'true' : 'false');
      markCurrent(b.closest('tr'), b.getAttribute('data-manage') === id);
    });
    showEndpoint(true);
    if (focus) $('hook-title').focus();
    await loadDeliveries();
  }

  function deliveryRow(d) {
    const actions = el('td', { className: 'actions' });
    if (d.status === 'failed') {
      const again = el('button', { type: 'button', className: 'btn btn-secondary btn-small', 'data-retry': String(d.id) }, ['Send again']);
      again.addEventListener('click', function () { retryDelivery(d, again); });
      actions.appendChild(again);
    }
    const response = [el('div', { className: 'excerpt mono', title: d.response || null }, [d.response || '—'])];
    if (d.error) response.push(el('div', { className: 'cell-sub' }, [d.error]));
    return el('tr', { 'data-delivery': String(d.id) }, [
      cell('Time', 'nowrap cell-sub', [localTime(d.createdAt)]),
      cell('Event', null, [el('span', { className: 'mono small' }, [d.eventType])]),
      cell('Status', null, [badge('delivery', d.status, d.status === 'delivered' ? 'Delivered' : 'Failed')]),
      cell('HTTP', 'num', [d.httpStatus ? String(d.httpStatus) : '—']),
      cell('Latency', 'num nowrap', [d.latencyMs + ' ms']),
      cell('Attempt', 'num', [String(d.attempt)]),
      cell('Response', null, response),
      actions
    ]);
  }

  async function loadDeliveries() {
    const e = currentEndpoint();
    if (!e) return true;
    $('deliveries-body').setAttribute('aria-busy', 'true');
    const res = await B.api('GET', '/api/admin/webhook-endpoints/' + encodeURIComponent(e.id) + '/deliveries?limit=50');
    $('deliveries-body').setAttribute('aria-busy', 'false');
    if (!res.ok) {
      failure(res, 'load the delivery log');
      return false;
    }
    setRows($('deliveries-body'), (res.body.items || []).map(deliveryRow), 8, 'Nothing sent yet.');
    return true;
  }

  async function retryDelivery(d, btn) {
    btn.disabled = true;
    btn.textContent = 'Queuing…';
    const res = await B.api('POST', '/api/admin/webhook-deliveries/' + encodeURIComponent(d.id) + '/retry');
    if (!res.ok) {
      btn.disabled = false;
      btn.textContent = 'Send again';
      failure(res, 'send this event again');
      return;
    }
    B.showAlert($('settings-error'), '');
    notice('Event ' + d.eventType + ' queued again; the new attempt appears in the log once sent.');
    btn.textContent = 'Queued';
    window.setTimeout(loadDeliveries, 2000);
  }

  $('hook-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const form = $('hook-form');
    B.clearFieldErrors(form);
    B.showAlert($('hook-error'), '');
    $('hook-create').disabled = true;
    const res = await B.api('POST', '/api/admin/webhook-endpoints', { url: $('hook-url').value.trim(), events: checkedEvents('hook-event') });
    $('hook-create').disabled = false;
    if (!res.ok) {
      formFailure(form, $('hook-error'), res, 'add the endpoint');
      return;
    }
    form.reset();
    await loadEndpoints();
    notice('Endpoint ' + res.body.endpoint.url + ' added. Copy its signing secret now: it will not be shown again.');
    showSecret('hook-secret', 'hook-secret-value', res.body.secret);
  });

  $('hook-events-form').addEventListener('submit', async function (ev) {
    ev.preventDefault();
    const e = currentEndpoint();
    if (!e) return;
    const form = $('hook-events-form');
    B.clearFieldErrors(form);
    B.showAlert($('hook-events-error'), '');
    const res = await B.api('PATCH', '/api/admin/webhook-endpoints/' + encodeURIComponent(e.id), { events: checkedEvents('hook-edit-event') });
    if (!res.ok) {
      formFailure(form, $('hook-events-error'), res, 'save the events');
      return;
    }
    await loadEndpoints();
    notice('Events of ' + e.url + ' saved.');
  });

  $('hook-toggle').addEventListener('click', async function () {
    const e = currentEndpoint();
    if (!e) return;
    const res = await B.api('PATCH', '/api/admin/webhook-endpoints/' + encodeURIComponent(e.id), { enabled: !e.enabled });
    if (!res.ok) {
      failure(res, e.enabled ? 'disable this endpoint' : 'enable this endpoint');
      return;
    }
    B.showAlert($('settings-error'), '');
    await loadEndpoints();
    notice('Endpoint ' + e.url + (res.body.endpoint.enabled ? ' enabled.' : ' disabled: it receives no events until enabled again.'));
  });

  $('hook-test').addEventListener('click', async function () {
    const e = currentEndpoint();
    if (!e) return;
    const btn = $('hook-test');
    btn.disabled = true;
    btn.textContent = 'Sending…';
    const res = await B.api('POST', '/api/admin/webhook-endpoints/' + encodeURIComponent(e.id) + '/test');
    btn.disabled = false;
    btn.textContent = 'Send test event';
    if (!res.ok) {
      failure(res, 'send a test event');
      return;
    }
    B.showAlert($('settings-error'), '');
    await loadDeliveries();
    const d = res.body.delivery;
    notice(d.status === 'delivered'
      ? 'Test event delivered (HTTP ' + d.httpStatus + ', ' + d.latencyMs + ' ms).'
      : 'Test event failed: ' + (d.error || ('HTTP ' + d.httpStatus)) + '.');
  });

  $('hook-close').addEventListener('click', function () {
    const id = state.endpointID;
    state.endpointID = '';
    $('hook-detail').hidden = true;
    const btn = document.querySelector('#hooks-body [data-manage="' + id + '"]');
    if (btn) {
      btn.setAttribute('aria-expanded', 'false');
      btn.closest('tr').removeAttribute('aria-current');
      btn.focus();
    }
  });
  $('deliveries-refresh').addEventListener('click', function () { loadDeliveries(); });

  // ---------------------------------------------------------------- Start

  async function init() {
    const me = await B.api('GET', '/auth/me');
    if (!me.ok || !me.body || !me.body.user) {
      if (me.status === 401 || me.status === 403) {
        toLogin();
        return;
      }
      $('settings-loading').hidden = true;
      failure(me, 'load your account');
      return;
    }
    state.user = me.body.user;
    $('user-email').textContent = state.user.email;
    $('user-role').textContent = state.user.role;
    $('header-user').hidden = false;
    if (state.user.role !== 'ADMIN') {
      $('settings-loading').hidden = true;
      $('settings-denied').hidden = false;
      return;
    }
    const ok = [await loadResources(), await loadKeys(), await loadEndpoints()];
    $('settings-loading').hidden = true;
    $('settings-body').hidden = false;
    if (ok.every(Boolean)) B.showAlert($('settings-error'), '');
  }

  $('logout').addEventListener('click', async function () {
    await B.api('POST', '/auth/logout');
    window.location.assign('/login');
  });

  init();
})();
