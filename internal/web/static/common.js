// Shared helpers of the booking pages: JSON requests, formatting, field errors,
// buttons that ask for a second click.
(function () {
  'use strict';

  // api sends a JSON request and resolves to {ok, status, body}; a network
  // failure resolves to {ok: false, status: 0}.
  async function api(method, path, body, headers) {
    const opts = { method: method, headers: Object.assign({ Accept: 'application/json' }, headers || {}), credentials: 'same-origin' };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {
      return { ok: false, status: 0, body: null };
    }
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    return { ok: res.ok, status: res.status, body: data };
  }

  // randomKey returns a fresh idempotency key (works outside secure contexts too).
  function randomKey() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.from(b, function (x) { return x.toString(16).padStart(2, '0'); }).join('');
  }

  const locale = 'en-GB';

  function money(amount, currency) {
    const cur = String(currency || '').toUpperCase();
    try {
      const nf = new Intl.NumberFormat(locale, { style: 'currency', currency: cur });
      const digits = nf.resolvedOptions().maximumFractionDigits;
      return nf.format(amount / Math.pow(10, digits));
    } catch (e) {
      return (amount / 100).toFixed(2) + ' ' + cur;
    }
  }

  function formatIn(date, tz, options) {
    try {
      return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: tz }, options)).format(date);
    } catch (e) {
      return new Intl.DateTimeFormat(locale, Object.assign({ timeZone: 'UTC' }, options)).format(date);
    }
  }

  function timeIn(iso, tz) {
    return formatIn(new Date(iso), tz, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }

  function dateIn(iso, tz) {
    return formatIn(new Date(iso), tz, { weekday: 'short', day: 'numeric', month: 'short', year: 'numeric' });
  }

  const statusLabels = {
    pending: 'Pending',
    awaiting_payment: 'Awaiting payment',
    confirmed: 'Confirmed',
    expired: 'Expired',
    payment_failed: 'Payment failed',
    cancelled: 'Cancelled',
    refunded: 'Refunded',
    needs_review: 'Needs review'
  };

  function statusLabel(s) {
    return statusLabels[s] || s;
  }

  // el creates an element with attributes and children (strings become text).
  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k === 'className') e.className = v;
      else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'for' || k === 'type' || k === 'name' || k === 'value' || k === 'id' || k === 'colspan' || k === 'title') e.setAttribute(k, v === true ? '' : v);
      else e[k] = v;
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }

  // clearFieldErrors hides every [data-field] error inside root.
  function clearFieldErrors(root) {
    root.querySelectorAll('.field-error').forEach(function (p) {
      p.hidden = true;
      p.textContent = '';
    });
    root.querySelectorAll('[aria-invalid]').forEach(function (i) { i.removeAttribute('aria-invalid'); });
  }

  // showFieldErrors shows the API's "fields" map next to the matching inputs
  // and returns the messages no field claimed.
  function showFieldErrors(root, fields) {
    const rest = {};
    let first = null;
    Object.keys(fields || {}).forEach(function (name) {
      const p = Array.from(root.querySelectorAll('.field-error[data-field]')).find(function (x) {
        return x.getAttribute('data-field').split(' ').indexOf(name) >= 0;
      });
      if (!p) {
        rest[name] = fields[name];
        return;
      }
      p.textContent = fields[name];
      p.hidden = false;
      const input = root.querySelector('[aria-describedby~="' + p.id + '"]');
      if (input && input.tagName !== 'FIELDSET') {
        input.setAttribute('aria-invalid', 'true');
        if (!first) first = input;
      } else if (!first && input) {
        first = input.querySelector('input') || input;
      }
    });
    if (first) first.focus();
    return rest;
  }

  function showAlert(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  const buttonStyles = {
    danger: ['btn btn-danger btn-small', 'btn btn-danger-solid btn-small'],
    primary: ['btn btn-secondary btn-small', 'btn btn-primary btn-small']
  };

  // confirmButton asks for a second click, within ten seconds, before
  // running action.
  function confirmButton(label, confirmLabel, style, action) {
    const cls = buttonStyles[style];
    const btn = el('button', { type: 'button', className: cls[0] }, [label]);
    let timer = 0;
    btn.addEventListener('click', async function () {
      if (!btn.hasAttribute('data-armed')) {
        btn.setAttribute('data-armed', '');
        btn.textContent = confirmLabel;
        btn.className = cls[1];
        timer = window.setTimeout(function () {
          btn.removeAttribute('data-armed');
          btn.textContent = label;
          btn.className = cls[0];
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

  window.Booking = {
    api: api, randomKey: randomKey, money: money, timeIn: timeIn, dateIn: dateIn, formatIn: formatIn,
    statusLabel: statusLabel, el: el, clearFieldErrors: clearFieldErrors, showFieldErrors: showFieldErrors,
    showAlert: showAlert, confirmButton: confirmButton
  };
})();
