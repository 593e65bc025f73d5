/* web/assets/self.js: the operator's self-service page: who am I and with which scope, change password, bind or unbind WeChat, log out. */
'use strict';

(function () {
  UK.strings({
    'self.title': ['个人设置', 'My account'],
    'self.heading': ['个人设置', 'My account'],
    'self.hall': ['进入网上业务大厅', 'Open the online hall'],
    'self.logout': ['退出登录', 'Log out'],
    'self.who': ['当前登录', 'Logged in as'],
    'self.name': ['姓名', 'Name'],
    'self.login': ['登录名', 'Login name'],
    'self.unit': ['单位', 'Unit'],
    'self.roles': ['岗位', 'Roles'],
    'self.method': ['登录方式', 'Login method'],
    'self.scope': ['可办理业务', 'Allowed'],
    'self.expires': ['登录有效至', 'Session ends'],
    'self.authorised': ['网厅用户授权', 'Online hall authorisation'],
    'self.yes': ['已办理', 'Done'],
    'self.no': ['未办理（仅可办理网厅用户授权）', 'Not done (only the authorisation itself is allowed)'],
    'scope.full': ['全部业务', 'Every function'],
    'scope.query': ['仅查询业务', 'Queries only'],
    'scope.query_note': ['您使用账号密码登录，只能办理查询业务。办理汇缴、基数调整等业务请使用UKey证书登录。', 'You logged in with a password: queries only. Log in with the UKey certificate for contributions, base changes and the like.'],
    'method.cert': ['UKey证书', 'UKey certificate'],
    'method.password': ['账号密码', 'Password'],
    'method.scan': ['微信扫码', 'WeChat scan'],
    'role.maker': ['录入', 'Maker'],
    'role.checker': ['复核', 'Checker'],
    'role.admin': ['专管员', 'Administrator'],
    'role.none': ['无', 'None'],
    'self.pw': ['修改登录密码', 'Change the password'],
    'self.pw_rule': ['新密码至少6位，须同时包含字母和数字。修改后其他设备上的登录将失效。', 'At least six characters with letters and digits. Other sessions end when it changes.'],
    'self.pw_old': ['原密码', 'Current password'],
    'self.pw_new': ['新密码', 'New password'],
    'self.pw_new2': ['再次输入新密码', 'New password again'],
    'self.pw_submit': ['修改密码', 'Change password'],
    'self.pw_mismatch': ['两次输入的新密码不一致', 'The two new passwords differ'],
    'self.pw_missing': ['请填写原密码和新密码', 'Enter the current and the new password'],
    'self.pw_ok': ['密码已修改。其他设备上的登录已失效。', 'Password changed. Your other sessions have ended.'],
    'self.must': ['您的密码是柜面重置的临时密码，请先修改密码。', 'Your password is a temporary one set at the counter: change it first.'],
    'self.wx': ['微信扫码登录', 'WeChat scan login'],
    'self.wx_note': ['绑定本人微信后，可在登录页用微信扫码登录。绑定须先使用UKey证书登录。', 'Bind your own WeChat to log in by scanning. Binding needs a UKey login.'],
    'self.wx_bind': ['绑定微信', 'Bind WeChat'],
    'self.wx_unbind': ['解除绑定', 'Unbind'],
    'self.wx_scan': ['请用本人微信扫描二维码并在手机上确认', 'Scan with your own WeChat and confirm on the phone'],
    'self.wx_scanned': ['已扫码，请在手机上确认', 'Scanned: confirm on the phone'],
    'self.wx_done': ['微信已绑定', 'WeChat bound'],
    'self.wx_expired': ['二维码已过期，请重新绑定', 'The code expired; start again'],
    'self.wx_unbound': ['已解除微信绑定', 'WeChat unbound'],
    'self.wx_na': ['本中心暂未开通微信扫码登录', 'Scan login is not enabled at this centre']
  });

  const $ = function (id) { return document.getElementById(id); };
  let session = null;

  function fact(dl, k, v) {
    dl.appendChild(UK.el('dt', null, UK.t(k)));
    dl.appendChild(UK.el('dd', null, v));
  }

  function render() {
    const dl = $('who');
    dl.textContent = '';
    if (!session) {
      return;
    }
    const s = session;
    fact(dl, 'self.name', s.name || '-');
    fact(dl, 'self.login', s.login);
    fact(dl, 'self.unit', s.unit || '-');
    fact(dl, 'self.roles', (s.roles || []).length ? s.roles.map(function (r) { return UK.t('role.' + r); }).join('、') : UK.t('role.none'));
    fact(dl, 'self.method', UK.t('method.' + s.method));
    fact(dl, 'self.scope', UK.t('scope.' + s.scope));
    fact(dl, 'self.authorised', UK.t(s.unitAuthorised ? 'self.yes' : 'self.no'));
    if (s.expires) {
      fact(dl, 'self.expires', UK.when(s.expires));
    }
    const note = $('scope-note');
    note.hidden = s.scope !== 'query';
    note.textContent = UK.t('scope.query_note');
  }

  async function load() {
    let ans;
    try {
      ans = await UK.request('GET', '/auth/session');
    } catch (e) {
      UK.showError($('self-msg'), UK.errorOf(null));
      return;
    }
    if (ans.status === 401 || (ans.status === 403 && UK.errorOf(ans).code === 'UK-4111')) {
      if (UK.errorOf(ans).code === 'UK-4111') {
        UK.showInfo($('self-msg'), UK.t('self.must'));
        return;
      }
      window.location.assign('/login?next=' + encodeURIComponent('/self'));
      return;
    }
    if (ans.status !== 200 || !ans.json) {
      UK.showError($('self-msg'), UK.errorOf(ans));
      return;
    }
    session = ans.json;
    render();
    if (UK.param('must') === '1') {
      UK.showInfo($('self-msg'), UK.t('self.must'));
      $('pw-old').focus();
    }
  }

  function csrf() {
    return session && session.csrf ? session.csrf : '';
  }

  async function changePassword(ev) {
    ev.preventDefault();
    const box = $('pw-msg');
    UK.hide(box);
    const o = $('pw-old').value;
    const n = $('pw-new').value;
    if (!o || !n) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('self.pw_missing') });
      return;
    }
    if (n !== $('pw-new2').value) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('self.pw_mismatch') });
      $('pw-new2').focus();
      return;
    }
    $('pw-submit').disabled = true;
    try {
      const ans = await UK.request('POST', '/auth/password/change', { old: o, new: n }, { 'X-CSRF-Token': csrf() });
      if (ans.status === 200) {
        ['pw-old', 'pw-new', 'pw-new2'].forEach(function (id) { $(id).value = ''; });
        if (ans.json && ans.json.csrf) {
          session = Object.assign(session || {}, ans.json);
        }
        UK.showInfo(box, UK.t('self.pw_ok'), 'ok');
        UK.hide($('self-msg'));
        load();
        return;
      }
      const err = UK.errorOf(ans);
      UK.showError(box, err, typeof err.triesLeft === 'number' && err.message.indexOf(String(err.triesLeft)) < 0 ? [String(err.triesLeft)] : []);
    } catch (e) {
      UK.showError(box, UK.errorOf(null));
    } finally {
      $('pw-submit').disabled = false;
    }
  }

  let wx = null;

  async function wxWait(me) {
    let state = 'waiting';
    while (wx === me) {
      let ans;
      try {
        ans = await UK.request('GET', '/auth/qr/' + encodeURIComponent(me.id) + '/wait?state=' + encodeURIComponent(state));
      } catch (e) {
        await new Promise(function (r) { setTimeout(r, 2000); });
        continue;
      }
      if (wx !== me) {
        return;
      }
      if (ans.status === 429) {
        await new Promise(function (r) { setTimeout(r, 2000); });
        continue;
      }
      if (ans.status !== 200 || !ans.json) {
        UK.showError($('wx-msg'), UK.errorOf(ans));
        $('wx-qr-box').hidden = true;
        wx = null;
        return;
      }
      state = ans.json.state;
      if (state === 'scanned') {
        $('wx-state').textContent = UK.t('self.wx_scanned');
      } else if (state === 'confirmed' || state === 'claimed') {
        $('wx-state').textContent = UK.t('self.wx_done');
        $('wx-qr-box').hidden = true;
        wx = null;
        return;
      } else if (state === 'expired' || state === 'cancelled') {
        $('wx-state').textContent = UK.t('self.wx_expired');
        $('wx-qr-box').hidden = true;
        wx = null;
        return;
      }
    }
  }

  async function wxBind() {
    UK.hide($('wx-msg'));
    $('wx-state').textContent = '';
    let ans;
    try {
      ans = await UK.request('POST', '/auth/wechat/bind', {}, { 'X-CSRF-Token': csrf() });
    } catch (e) {
      UK.showError($('wx-msg'), UK.errorOf(null));
      return;
    }
    if (ans.status === 404 && UK.errorOf(ans).code === 'UK-1507') {
      UK.showInfo($('wx-msg'), UK.t('self.wx_na'));
      return;
    }
    if (ans.status !== 200 || !ans.json || !ans.json.id) {
      UK.showError($('wx-msg'), UK.errorOf(ans));
      return;
    }
    const q = ans.json;
    const img = $('wx-qr');
    if (q.svg) {
      img.src = 'data:image/svg+xml;base64,' + btoa(unescape(encodeURIComponent(q.svg)));
    } else if (q.png) {
      img.src = q.png.indexOf('data:') === 0 ? q.png : 'data:image/png;base64,' + q.png;
    }
    img.alt = UK.t('self.wx_scan');
    $('wx-qr-box').hidden = false;
    $('wx-state').textContent = UK.t('self.wx_scan');
    wx = { id: q.id };
    wxWait(wx);
  }

  async function wxUnbind() {
    UK.hide($('wx-msg'));
    wx = null;
    $('wx-qr-box').hidden = true;
    let ans;
    try {
      ans = await UK.request('POST', '/auth/wechat/unbind', {}, { 'X-CSRF-Token': csrf() });
    } catch (e) {
      UK.showError($('wx-msg'), UK.errorOf(null));
      return;
    }
    if (ans.status === 200) {
      $('wx-state').textContent = UK.t('self.wx_unbound');
    } else if (ans.status === 404 && UK.errorOf(ans).code === 'UK-1507') {
      UK.showInfo($('wx-msg'), UK.t('self.wx_na'));
    } else {
      UK.showError($('wx-msg'), UK.errorOf(ans));
    }
  }

  async function logout() {
    try {
      await UK.request('POST', '/auth/logout', {}, { 'X-CSRF-Token': csrf() });
    } finally {
      window.location.assign('/login');
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    UK.init();
    $('pw-form').addEventListener('submit', changePassword);
    $('wx-bind').addEventListener('click', wxBind);
    $('wx-unbind').addEventListener('click', wxUnbind);
    $('logout').addEventListener('click', logout);
    document.addEventListener('uk-lang', render);
    load();
  });
})();
