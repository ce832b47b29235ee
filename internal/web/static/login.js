// Staff sign-in.
(function () {
  'use strict';
  const B = window.Booking;
  const form = document.getElementById('login-form');
  const alertBox = document.getElementById('login-error');
  const submit = document.getElementById('login-submit');
  const email = document.getElementById('login-email');
  const password = document.getElementById('login-password');

  form.addEventListener('submit', async function (ev) {
    ev.preventDefault();
    B.clearFieldErrors(form);
    B.showAlert(alertBox, '');
    const missing = {};
    if (!email.value.trim()) missing.email = 'Required.';
    if (!password.value) missing.password = 'Required.';
    if (Object.keys(missing).length) {
      B.showFieldErrors(form, missing);
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    const res = await B.api('POST', '/auth/login', { email: email.value.trim(), password: password.value });
    if (res.ok) {
      const next = new URLSearchParams(location.search).get('next');
      window.location.assign(next && next.charAt(0) === '/' && next.charAt(1) !== '/' ? next : '/dashboard');
      return;
    }
    submit.disabled = false;
    submit.textContent = 'Sign in';
    const body = res.body || {};
    if (res.status === 401) {
      B.showAlert(alertBox, 'The email or password is incorrect.');
      password.value = '';
      password.focus();
    } else if (res.status === 422 && body.fields) {
      const rest = B.showFieldErrors(form, body.fields);
      if (Object.keys(rest).length) B.showAlert(alertBox, body.message || 'Please check the form.');
    } else if (res.status === 429) {
      B.showAlert(alertBox, 'Too many sign-in attempts. Please wait a minute and try again.');
    } else if (res.status === 0) {
      B.showAlert(alertBox, 'We could not reach the server. Check your connection and try again.');
    } else {
      B.showAlert(alertBox, (body.message || 'Something went wrong.') + ' Please try again.');
    }
  });
})();
