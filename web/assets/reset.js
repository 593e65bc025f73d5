/* web/assets/reset.js: the forgotten-password pages: account -> SMS code -> one-time token -> new password (POST /auth/reset/request, /verify, /password). */
'use strict';

(function () {
  UK.strings({
    'reset.title': ['找回密码', 'Reset the password'],
    'reset.heading': ['找回登录密码', 'Reset your password'],
    'reset.s1': ['填写账号', 'Account'],
    'reset.s2': ['短信验证', 'SMS code'],
    'reset.s3': ['设置新密码', 'New password'],
    'reset.login': ['登录名或身份证号码', 'Login name or resident ID number'],
    'reset.send': ['获取短信验证码', 'Send me a code'],
    'reset.code': ['短信验证码（6位数字）', 'SMS code (6 digits)'],
    'reset.verify': ['下一步', 'Next'],
    'reset.again': ['重新获取验证码', 'Send a new code'],
    'reset.rule': ['新密码至少6位，须同时包含字母和数字。', 'At least six characters with letters and digits.'],
    'reset.pw': ['新密码', 'New password'],
    'reset.pw2': ['再次输入新密码', 'New password again'],
    'reset.set': ['设置新密码', 'Set the password'],
    'reset.counter': ['未绑定手机号码或手机号码已变更的，请携带《网上业务用户变更申请表》到缴存银行柜面办理。', 'Without a usable phone number, take the user change form to the bank counter.'],
    'reset.need_login': ['请输入登录名或身份证号码', 'Enter the login name or resident ID number'],
    'reset.need_code': ['请输入6位数字验证码', 'Enter the 6-digit code'],
    'reset.mismatch': ['两次输入的新密码不一致', 'The two passwords differ'],
    'reset.done': ['密码已重置。请使用新密码登录；原有登录均已失效。', 'The password is reset. Log in with the new one; every earlier session has ended.']
  });

  const $ = function (id) { return document.getElementById(id); };
  let login = '';
  let token = '';

  function step(n) {
    ['f-request', 'f-verify', 'f-password'].forEach(function (id, i) {
      $(id).hidden = i + 1 !== n;
      const li = $('step-' + (i + 1));
      if (i + 1 === n) {
        li.setAttribute('aria-current', 'step');
      } else {
        li.removeAttribute('aria-current');
      }
    });
    const first = document.querySelector('#' + ['f-request', 'f-verify', 'f-password'][n - 1] + ' input');
    if (first) {
      first.focus();
    }
  }

  async function post(path, body) {
    const ch = await UK.request('GET', '/auth/challenge');
    if (ch.status !== 200 || !ch.json) {
      return ch;
    }
    return UK.request('POST', path, body, { 'X-CSRF-Token': ch.json.csrf });
  }

  async function guarded(fn) {
    try {
      await fn();
    } catch (e) {
      UK.showError($('r-msg'), UK.errorOf(null));
    }
  }

  async function request(ev) {
    if (ev) {
      ev.preventDefault();
    }
    const box = $('r-msg');
    UK.hide(box);
    login = $('r-login').value.trim();
    if (!login) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('reset.need_login') });
      return;
    }
    await guarded(async function () {
      const ans = await post('/auth/reset/request', { login: login });
      if (ans.status !== 200) {
        UK.showError(box, UK.errorOf(ans));
        return;
      }
      UK.showInfo(box, (ans.json && ans.json.message) || '');
      step(2);
    });
  }

  async function verify(ev) {
    ev.preventDefault();
    const box = $('r-msg');
    const code = $('r-code').value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('reset.need_code') });
      return;
    }
    await guarded(async function () {
      const ans = await post('/auth/reset/verify', { login: login, code: code });
      if (ans.status !== 200 || !ans.json || !ans.json.token) {
        UK.showError(box, UK.errorOf(ans));
        return;
      }
      token = ans.json.token;
      UK.hide(box);
      step(3);
    });
  }

  async function setPassword(ev) {
    ev.preventDefault();
    const box = $('r-msg');
    const pw = $('r-pw').value;
    if (!pw || pw !== $('r-pw2').value) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('reset.mismatch') });
      return;
    }
    await guarded(async function () {
      const ans = await post('/auth/reset/password', { token: token, password: pw });
      if (ans.status !== 200) {
        UK.showError(box, UK.errorOf(ans));
        return;
      }
      $('r-pw').value = '';
      $('r-pw2').value = '';
      $('f-password').hidden = true;
      UK.showInfo(box, UK.t('reset.done'), 'ok');
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    UK.init();
    $('f-request').addEventListener('submit', request);
    $('f-verify').addEventListener('submit', verify);
    $('r-again').addEventListener('click', function () { request(null); });
    $('f-password').addEventListener('submit', setPassword);
  });
})();
