/* web/assets/login.js: the login page: UKey login through the local agent, scan login (QR and long poll), password login; every refusal with its code, remedy and event number. */
'use strict';

(function () {
  UK.strings({
    'login.title': ['登录', 'Log in'],
    'login.heading': ['单位经办人登录', 'Operator login'],
    'login.methods': ['登录方式', 'Login methods'],
    'login.submit': ['登录', 'Log in'],
    'login.busy': ['正在登录…', 'Logging in…'],
    'login.ok': ['登录成功，正在进入…', 'Logged in, opening…'],
    'tab.cert': ['证书登录', 'UKey certificate'],
    'tab.scan': ['扫码登录', 'Scan with WeChat'],
    'tab.password': ['账号密码登录', 'Password'],
    'cert.note': ['插入UKey，选择证书后登录。证书登录可办理全部业务。', 'Insert your UKey, choose the certificate and log in. A certificate login allows every function.'],
    'cert.choose': ['选择证书', 'Choose a certificate'],
    'cert.pin': ['UKey PIN码', 'UKey PIN'],
    'cert.pin_dialog': ['点击登录后，请在UKey助手弹出的窗口中输入PIN码。', 'After "Log in", enter the PIN in the UKey agent\'s window.'],
    'cert.refresh': ['刷新证书列表', 'Refresh the list'],
    'cert.holder': ['持有人', 'Holder'],
    'cert.unit': ['单位', 'Unit'],
    'cert.expiry': ['有效期至', 'Valid until'],
    'cert.expired': ['证书已过期', 'The certificate has expired'],
    'cert.expired_remedy': ['证书过期请携带《网上业务用户变更申请表》到缴存银行柜面换发。', 'Have an expired certificate reissued at the bank counter (bring the user change form).'],
    'cert.not_yet': ['证书尚未生效', 'The certificate is not valid yet'],
    'cert.none': ['未检测到UKey或UKey中没有证书。请插入UKey；插入后列表会自动更新。', 'No UKey or no certificate found. Insert your UKey; the list updates by itself.'],
    'pin.ok': ['PIN码状态正常，还可尝试 {0} 次', 'PIN OK: {0} tries left'],
    'pin.low': ['PIN码曾输错，还可尝试 {0} 次', 'Wrong PIN entered before: {0} tries left'],
    'pin.final': ['仅剩最后 1 次尝试机会，再输错UKey将被锁定', 'One try left: another wrong PIN locks the UKey'],
    'pin.locked': ['PIN码已锁定，UKey无法使用', 'PIN locked; the UKey cannot be used'],
    'pin.locked_remedy': ['持《网上业务用户变更申请表》到缴存银行柜面解锁或换发证书', 'Take the user change application form to the bank counter to unblock the key or reissue the certificate'],
    'pin.change': ['UKey要求先修改PIN码，请运行 ukey-agent change-pin', 'The UKey requires a new PIN first: run ukey-agent change-pin'],
    'pin.uninit': ['UKey尚未初始化PIN码，请到缴存银行柜面办理', 'The UKey has no PIN yet; go to the bank counter'],
    'pin.empty': ['请输入PIN码', 'Enter the PIN'],
    'agent.down': ['无法连接本机UKey助手', 'Cannot reach the local UKey agent'],
    'agent.down1': ['请确认本机已安装并启动“UKey助手”（ukey-agent），它在 127.0.0.1:{0} 上等待本页面连接。', 'Make sure the UKey agent (ukey-agent) is installed and running; it waits for this page on 127.0.0.1:{0}.'],
    'agent.down2': ['尚未安装：请从公积金中心网站的“下载中心”下载并安装UKey助手，无需安装浏览器控件。', 'Not installed: download the UKey agent from the centre\'s download page; no browser plug-in is needed.'],
    'agent.down3': ['已安装仍无法连接：运行 ukey-agent doctor，按提示处理，或把结果告知服务热线。', 'Installed but not reachable: run ukey-agent doctor and follow it, or tell the helpdesk what it says.'],
    'agent.down4': ['浏览器提示是否允许访问本地网络或本机设备时，请选择“允许”。', 'If the browser asks whether this site may access devices on your local network, allow it.'],
    'agent.remedy': ['启动 ukey-agent，然后运行 ukey-agent doctor', 'Start ukey-agent, then run ukey-agent doctor'],
    'agent.busy': ['UKey助手正在处理另一项操作（例如PIN码输入窗口），请完成后重试', 'The UKey agent is busy (e.g. its PIN window is open); finish that and retry'],
    'agent.module': ['UKey驱动模块无法加载', 'The UKey driver cannot be loaded'],
    'agent.timeout': ['UKey助手或浏览器长时间没有应答（浏览器可能在等待您允许访问本机设备）。', 'The UKey agent or the browser did not answer in time (the browser may be waiting for you to allow access to local devices).'],
    'agent.insecure': ['本页面不是通过 https 打开的，浏览器不允许它连接本机UKey助手：请使用中心公布的 https 地址登录。', 'This page was not opened over https, so the browser does not let it reach the local UKey agent: use the centre\'s https address.'],
    'agent.failed': ['读取UKey证书列表时出错', 'Reading the UKey certificate list failed'],
    'scan.note': ['请使用已绑定的微信扫描二维码，并在手机上确认登录。', 'Scan the code with your bound WeChat and confirm on the phone.'],
    'scan.refresh': ['刷新二维码', 'New QR code'],
    'scan.waiting': ['请使用微信扫一扫', 'Scan with WeChat'],
    'scan.scanned': ['已扫码，请在手机上确认登录', 'Scanned: confirm on your phone'],
    'scan.confirmed': ['已确认，正在登录…', 'Confirmed, logging in…'],
    'scan.expired': ['二维码已过期', 'The QR code has expired'],
    'scan.cancelled': ['已在手机上取消登录', 'Cancelled on the phone'],
    'scan.countdown': ['二维码 {0} 秒后过期', 'The code expires in {0} s'],
    'scan.qr_alt': ['扫码登录二维码', 'QR code for scan login'],
    'pw.note': ['账号密码登录只能办理查询业务；办理其他业务请使用证书登录。', 'A password login allows queries only; use the UKey for everything else.'],
    'pw.login': ['登录名或身份证号码', 'Login name or resident ID number'],
    'pw.password': ['登录密码', 'Password'],
    'pw.forgot': ['忘记密码？', 'Forgot the password?'],
    'pw.missing': ['请输入登录名和密码', 'Enter the login name and password'],
    'pw.tries': ['还可尝试 {0} 次', '{0} tries left'],
    'pw.frozen': ['用户已暂时冻结', 'The user is frozen for today'],
    'pw.frozen_until': ['冻结至 {0}，请于次日再试，或通过“忘记密码”重置密码。', 'Frozen until {0}: try again tomorrow, or reset the password with "Forgot the password?".'],
    'foot.help': ['登录遇到问题？请记下错误代码和事件编号，联系服务热线。', 'Trouble logging in? Note the error code and event number and call the helpdesk.']
  });

  const $ = function (id) { return document.getElementById(id); };
  /* Where to go after login: a safe ?next=, else by who logged in. */
  const nextParam = UK.safeNext(UK.param('next'), null);
  /* How long the agent may take to answer a listing; signing waits for the
   * PIN window, so it may take minutes. */
  const AGENT_LIST_MS = 10000;
  const AGENT_SIGN_MS = 300000;

  /* --- the agent's address --- */
  function agentPort() {
    const q = UK.param('agent');
    if (q && /^[0-9]{2,5}$/.test(q) && +q > 0 && +q < 65536) {
      localStorage.setItem('ukey.agentPort', q);
    }
    const saved = localStorage.getItem('ukey.agentPort');
    if (saved && /^[0-9]{2,5}$/.test(saved)) {
      return saved;
    }
    const m = document.querySelector('meta[name="ukey-agent-port"]');
    return m && /^[0-9]{2,5}$/.test(m.content) ? m.content : '24680';
  }
  const AGENT = 'http://127.0.0.1:' + agentPort();

  /* --- tabs --- */
  const tabs = ['cert', 'scan', 'password'];
  let current = null;

  function select(name, focus) {
    if (tabs.indexOf(name) < 0) {
      name = 'cert';
    }
    tabs.forEach(function (n) {
      const on = n === name;
      const tab = $('tab-' + n);
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('panel-' + n).hidden = !on;
      if (on && focus) {
        tab.focus();
      }
    });
    if (current === name) {
      return;
    }
    current = name;
    if (window.location.hash !== '#' + name) {
      history.replaceState(null, '', '#' + name + '');
    }
    if (name === 'cert') {
      agentRefresh();
    }
    if (name === 'scan') {
      scanStart();
    } else {
      scanStop();
    }
    if (name === 'password') {
      $('pw-login').focus();
    }
  }

  function tabKeys(ev) {
    const i = tabs.indexOf(current);
    let j = -1;
    if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') {
      j = (i + 1) % tabs.length;
    } else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') {
      j = (i + tabs.length - 1) % tabs.length;
    } else if (ev.key === 'Home') {
      j = 0;
    } else if (ev.key === 'End') {
      j = tabs.length - 1;
    }
    if (j >= 0) {
      ev.preventDefault();
      select(tabs[j], true);
    }
  }

  /* --- the gateway's challenge (pre-login cookie and CSRF token) --- */
  async function challenge() {
    const ans = await UK.request('GET', '/auth/challenge');
    if (ans.status !== 200 || !ans.json || !ans.json.csrf) {
      throw UK.errorOf(ans);
    }
    return ans.json;
  }

  /* The page for who logged in: staff to their console by role (counter
   * first), operators to their self-service page. */
  function homeOf(s) {
    const roles = s && Array.isArray(s.roles) ? s.roles : [];
    if (s && s.kind === 'staff') {
      if (roles.indexOf('counter') >= 0) {
        return '/counter';
      }
      if (roles.indexOf('helpdesk') >= 0) {
        return '/helpdesk';
      }
    }
    return '/self';
  }

  async function loggedIn(json) {
    if (json && json.mustChangePassword) {
      window.location.assign('/self?must=1#password');
      return;
    }
    if (nextParam) {
      window.location.assign(nextParam);
      return;
    }
    let who = json && json.kind ? json : null;
    if (!who) {
      try {
        const ans = await UK.request('GET', '/auth/session');
        who = ans.status === 200 ? ans.json : null;
      } catch (e) {
        who = null;
      }
    }
    window.location.assign(homeOf(who));
  }

  /*
   * A request to the agent that gives up after ms: a browser that holds
   * the request back (a local-network permission it never asks, a proxy)
   * must not leave the page waiting for ever. Rejects like UK.request,
   * with e.timeout set when it gave up.
   */
  async function agentCall(method, path, body, ms) {
    const ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
    let timedOut = false;
    const timer = setTimeout(function () {
      timedOut = true;
      if (ctl) {
        ctl.abort();
      }
    }, ms);
    try {
      return await UK.request(method, AGENT + path, body, null, ctl ? ctl.signal : undefined);
    } catch (e) {
      const err = new Error(timedOut ? 'timeout' : 'unreachable');
      err.timeout = timedOut;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /* --- UKey --- */
  let agentState = null; /* the last /v1/status */
  let certs = [];
  let events = null;
  let refreshTimer = 0;
  let downTimer = 0;
  let signing = false;
  /* The certificate chosen (by the user, else the first one offered):
   * chosen again when its key comes back after being pulled out. */
  let wanted = null;

  /* "CN=张三,O=U1" (RFC 2253, escaped commas) -> {CN: ..., O: ...} */
  function dn(s) {
    const out = {};
    const parts = [];
    let cur = '';
    for (let i = 0; i < (s || '').length; i++) {
      const ch = s.charAt(i);
      if (ch === '\\' && i + 1 < s.length) {
        cur += s.charAt(++i);
      } else if (ch === ',' || ch === '/') {
        parts.push(cur);
        cur = '';
      } else {
        cur += ch;
      }
    }
    parts.push(cur);
    parts.forEach(function (p) {
      const k = p.indexOf('=');
      if (k > 0) {
        const name = p.slice(0, k).trim().toUpperCase();
        if (!(name in out)) {
          out[name] = p.slice(k + 1).trim();
        }
      }
    });
    return out;
  }

  function pinText(pin) {
    if (!pin) {
      return { text: '', bad: false };
    }
    const n = pin.retriesLeft;
    switch (pin.state) {
    case 'LOCKED':
      return { text: UK.t('pin.locked'), remedy: UK.t('pin.locked_remedy'), bad: true, locked: true };
    case 'FINAL_TRY':
      return { text: UK.t('pin.final'), bad: false, warn: true };
    case 'COUNT_LOW':
      return { text: UK.t('pin.low', n), bad: false, warn: true };
    case 'TO_BE_CHANGED':
      return { text: UK.t('pin.change'), bad: true };
    case 'NOT_INITIALISED':
      return { text: UK.t('pin.uninit'), bad: true };
    default:
      return { text: typeof n === 'number' ? UK.t('pin.ok', n) : '', bad: false };
    }
  }

  function agentDown(e) {
    const box = $('agent-msg');
    const lines = [UK.t('agent.down1', agentPort()), UK.t('agent.down2'), UK.t('agent.down3'), UK.t('agent.down4')];
    if (e && e.timeout) {
      lines.unshift(UK.t('agent.timeout'));
    }
    if (!window.isSecureContext) {
      lines.push(UK.t('agent.insecure'));
    }
    UK.showError(box, { code: 'UK-4301', message: UK.t('agent.down'), remedy: UK.t('agent.remedy') }, lines);
    const b = UK.el('button', 'secondary', UK.t('common.retry'));
    b.type = 'button';
    b.addEventListener('click', function () { agentRefresh(); });
    box.appendChild(b);
    certs = [];
    renderCerts();
    clearTimeout(downTimer);
    if (current === 'cert') {
      downTimer = setTimeout(agentRefresh, 5000); /* it may be started meanwhile */
    }
  }

  /* Lists the agent's state and certificates; at most one listing at a
   * time (a second request meanwhile runs once the first is done). */
  let listing = null;
  let listAgain = false;

  function agentRefresh() {
    if (listing) {
      listAgain = true;
      return listing;
    }
    listing = (async function () {
      do {
        listAgain = false;
        try {
          await agentList();
        } catch (e) {
          /* never leave the list at "loading" */
          certs = [];
          renderCerts();
          UK.showError($('agent-msg'), { code: 'UK-1001', message: UK.t('agent.failed'), remedy: UK.t('agent.remedy') }, [String(e && e.message || e)]);
        }
      } while (listAgain);
      listing = null;
    })();
    return listing;
  }

  async function agentList() {
    clearTimeout(downTimer);
    if (signing) {
      return;
    }
    let st, cs;
    try {
      st = await agentCall('GET', '/v1/status', undefined, AGENT_LIST_MS);
    } catch (e) {
      agentState = null;
      closeEvents();
      agentDown(e);
      return;
    }
    if (st.status !== 200 || !st.json) {
      UK.showError($('agent-msg'), UK.errorOf(st));
      certs = [];
      renderCerts();
      return;
    }
    agentState = st.json;
    UK.hide($('agent-msg'));
    const mod = agentState.module || {};
    if (mod.loaded === false) {
      UK.showError($('agent-msg'), mod.error && mod.error.code ? mod.error : { code: 'UK-2001', message: UK.t('agent.module') });
    }
    $('pin-row').hidden = agentState.pinSource !== 'request';
    $('pin-dialog-note').hidden = agentState.pinSource === 'request';
    if (agentState.busy) {
      UK.showInfo($('agent-msg'), UK.t('agent.busy'));
    }
    try {
      cs = await agentCall('GET', '/v1/certificates', undefined, AGENT_LIST_MS);
    } catch (e) {
      agentState = null;
      closeEvents();
      agentDown(e);
      return;
    }
    if (cs.status !== 200 || !cs.json) {
      const err = UK.errorOf(cs);
      if (err.code !== 'UK-2002') {
        UK.showError($('agent-msg'), err);
      }
      certs = [];
    } else {
      const pins = {};
      (cs.json.tokens || agentState.tokens || []).forEach(function (tk) {
        pins[tk.serial] = { pin: tk.pin, label: tk.label };
      });
      certs = (cs.json.certificates || []).map(function (c) {
        const s = dn(c.subject);
        const now = Date.now();
        const na = Date.parse(c.notAfter);
        const nb = Date.parse(c.notBefore);
        return {
          id: c.id, holder: s.CN || c.label || c.id, unit: s.O || s.OU || '',
          notAfter: c.notAfter, expired: !isNaN(na) && na < now, notYet: !isNaN(nb) && nb > now,
          pin: (pins[c.token] || {}).pin, token: c.token, tokenLabel: (pins[c.token] || {}).label || ''
        };
      });
    }
    renderCerts();
    openEvents(); /* after the listing: the stream holds its connection */
  }

  function renderCerts() {
    const list = $('cert-list');
    const checked = (document.querySelector('input[name="cert"]:checked') || {}).value;
    const prev = wanted && certs.some(function (c) { return c.id === wanted; }) ? wanted : checked;
    list.textContent = '';
    /* The PIN typed is for the key that was chosen: gone with it. */
    if (checked && !certs.some(function (c) { return c.id === checked; })) {
      $('pin').value = '';
    }
    if (!certs.length) {
      if (agentState) {
        const none = UK.el('p', 'msg msg-info', UK.t('cert.none'));
        none.id = 'cert-none';
        list.appendChild(none);
      }
      $('cert-submit').disabled = true;
      return;
    }
    let chosen = null;
    certs.forEach(function (c, i) {
      const pin = pinText(c.pin);
      const usable = !c.expired && !c.notYet && !pin.bad;
      const row = UK.el('label', 'cert' + (usable ? '' : ' cert-off'));
      const radio = UK.el('input');
      radio.type = 'radio';
      radio.name = 'cert';
      radio.value = c.id;
      radio.disabled = !usable;
      radio.id = 'cert-' + i;
      if (usable && (c.id === prev || chosen === null)) {
        chosen = radio;
      }
      row.appendChild(radio);
      const body = UK.el('span', 'cert-body');
      body.appendChild(UK.el('span', 'cert-holder', c.holder));
      const facts = UK.el('span', 'cert-facts');
      if (c.unit) {
        facts.appendChild(UK.el('span', null, UK.t('cert.unit') + '：' + c.unit));
      }
      facts.appendChild(UK.el('span', null, UK.t('cert.expiry') + '：' + UK.day(c.notAfter)));
      body.appendChild(facts);
      if (c.expired || c.notYet) {
        body.appendChild(UK.el('span', 'cert-bad', UK.t(c.expired ? 'cert.expired' : 'cert.not_yet') + '。' + UK.t('cert.expired_remedy')));
      }
      if (pin.text) {
        body.appendChild(UK.el('span', pin.bad ? 'cert-bad' : pin.warn ? 'cert-warn' : 'cert-pin', pin.text));
      }
      if (pin.remedy) {
        body.appendChild(UK.el('span', 'cert-bad', pin.remedy));
      }
      row.appendChild(body);
      list.appendChild(row);
    });
    if (chosen) {
      chosen.checked = true;
      if (!wanted) {
        wanted = chosen.value;
      }
    }
    $('cert-submit').disabled = !chosen;
  }

  function closeEvents() {
    if (events) {
      events.close();
      events = null;
    }
  }

  function openEvents() {
    if (events || typeof EventSource === 'undefined') {
      return;
    }
    events = new EventSource(AGENT + '/v1/events');
    const later = function () {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(agentRefresh, 300);
    };
    ['inserted', 'removed', 'reader-added', 'reader-removed', 'pin-state'].forEach(function (t) {
      events.addEventListener(t, later);
    });
    events.onerror = function () {
      /* The agent went away: say so, and try again later. */
      if (events && events.readyState === EventSource.CLOSED) {
        closeEvents();
      }
      later();
    };
  }

  async function certLogin(ev) {
    ev.preventDefault();
    const errBox = $('cert-err');
    UK.hide(errBox);
    const chosen = document.querySelector('input[name="cert"]:checked');
    if (!chosen) {
      return;
    }
    const wantPin = agentState && agentState.pinSource === 'request';
    const pinEl = $('pin');
    if (wantPin && !pinEl.value) {
      UK.showError(errBox, { code: 'UK-2009', message: UK.t('pin.empty') });
      pinEl.focus();
      return;
    }
    const btn = $('cert-submit');
    btn.disabled = true;
    btn.textContent = UK.t('login.busy');
    signing = true;
    let done = false;
    try {
      /* The agent runs one token operation at a time: let a listing that
       * is under way (an insertion, a PIN-state event) end first, or the
       * signature would be refused as busy. */
      if (listing) {
        await listing;
      }
      const ch = await challenge();
      const req = { nonce: ch.nonce, certificate: chosen.value };
      if (wantPin) {
        req.pin = pinEl.value;
      }
      let tok;
      try {
        tok = await agentCall('POST', '/v1/authenticate', req, AGENT_SIGN_MS);
      } catch (e) {
        pinEl.value = '';
        signing = false;
        agentDown(e);
        return;
      }
      pinEl.value = '';
      if (tok.status !== 200 || !tok.json || !tok.json.signature) {
        const err = UK.errorOf(tok);
        const pin = tok.json && tok.json.pin ? pinText(tok.json.pin) : null;
        UK.showError(errBox, err, pin && pin.text !== err.message ? [pin.text] : []);
        return;
      }
      const ans = await UK.request('POST', '/auth/cert', { token: tok.json, nonce: ch.nonce }, { 'X-CSRF-Token': ch.csrf });
      if (ans.status === 200) {
        UK.showInfo(errBox, UK.t('login.ok'), 'ok');
        done = true;
        await loggedIn(ans.json);
        return;
      }
      UK.showError(errBox, UK.errorOf(ans));
    } catch (e) {
      UK.showError(errBox, e && e.code ? e : UK.errorOf(null));
    } finally {
      signing = false;
      btn.textContent = UK.t('login.submit');
      if (current === 'cert' && !done) {
        agentRefresh(); /* the PIN state may have changed */
      }
    }
  }

  /* --- scan --- */
  let scan = null; /* {id, expires (ms), state, csrf, stop} */
  let scanTick = 0;

  function scanCover(text) {
    $('qr-cover').hidden = false;
    $('qr-cover-text').textContent = text;
    $('qr-countdown').textContent = '';
    clearInterval(scanTick);
  }

  function scanShowState(state) {
    const names = { waiting: 'scan.waiting', scanned: 'scan.scanned', confirmed: 'scan.confirmed', expired: 'scan.expired', cancelled: 'scan.cancelled' };
    $('qr-state').textContent = names[state] ? UK.t(names[state]) : '';
    $('qr-state').dataset.state = state;
    if (state === 'expired' || state === 'cancelled') {
      scanCover(UK.t(names[state]));
    }
  }

  function scanStop() {
    if (scan) {
      scan.stop = true;
      if (scan.ctl) {
        scan.ctl.abort();
      }
    }
    scan = null;
    clearInterval(scanTick);
  }

  function b64utf8(s) {
    return btoa(unescape(encodeURIComponent(s)));
  }

  async function scanStart() {
    scanStop();
    UK.hide($('scan-err'));
    $('qr-cover').hidden = true;
    const me = { stop: false, state: 'waiting' };
    scan = me;
    try {
      const ch = await challenge();
      me.csrf = ch.csrf;
      const ans = await UK.request('POST', '/auth/qr', {}, { 'X-CSRF-Token': ch.csrf });
      if (me.stop) {
        return;
      }
      if (ans.status !== 200 || !ans.json || !ans.json.id) {
        UK.showError($('scan-err'), UK.errorOf(ans));
        scanCover('');
        return;
      }
      const q = ans.json;
      me.id = q.id;
      me.expires = Date.now() + (q.expires_in || 120) * 1000;
      const img = $('qr-img');
      if (q.svg) {
        img.src = 'data:image/svg+xml;base64,' + b64utf8(q.svg);
      } else if (q.png) {
        img.src = q.png.indexOf('data:') === 0 ? q.png : 'data:image/png;base64,' + q.png;
      }
      img.alt = UK.t('scan.qr_alt');
      img.hidden = false;
      scanShowState('waiting');
      const tick = function () {
        const left = Math.max(0, Math.round((me.expires - Date.now()) / 1000));
        $('qr-countdown').textContent = UK.t('scan.countdown', left);
        if (left <= 0 && scan === me) {
          scanShowState('expired');
          scanStop();
        }
      };
      tick();
      scanTick = setInterval(tick, 1000);
      scanWait(me);
    } catch (e) {
      if (!me.stop) {
        UK.showError($('scan-err'), e && e.code ? e : UK.errorOf(null));
        scanCover('');
      }
    }
  }

  async function scanWait(me) {
    let failures = 0;
    while (!me.stop) {
      let ans;
      try {
        me.ctl = typeof AbortController !== 'undefined' ? new AbortController() : null;
        const res = await fetch('/auth/qr/' + encodeURIComponent(me.id) + '/wait?state=' + encodeURIComponent(me.state), {
          credentials: 'same-origin', cache: 'no-store', signal: me.ctl ? me.ctl.signal : undefined,
          headers: { 'Accept': 'application/json', 'Accept-Language': UK.lang() === 'en' ? 'en' : 'zh-CN' }
        });
        let json = null;
        try {
          json = await res.json();
        } catch (e) {
          json = null;
        }
        ans = { status: res.status, json: json };
      } catch (e) {
        if (me.stop) {
          return;
        }
        if (++failures > 3) {
          UK.showError($('scan-err'), UK.errorOf(null));
          scanCover('');
          return;
        }
        await new Promise(function (r) { setTimeout(r, 2000); });
        continue;
      }
      if (me.stop) {
        return;
      }
      failures = 0;
      if (ans.status === 429) {
        await new Promise(function (r) { setTimeout(r, 2000); });
        continue;
      }
      if (ans.status !== 200 || !ans.json) {
        const err = UK.errorOf(ans);
        if (err.code === 'UK-4207') {
          scanShowState('expired');
        } else if (err.code === 'UK-4213') {
          scanShowState('cancelled');
        } else {
          UK.showError($('scan-err'), err);
          scanCover('');
        }
        scanStop();
        return;
      }
      const state = ans.json.state;
      if (state && state !== me.state) {
        me.state = state;
        scanShowState(state);
      }
      if (state === 'confirmed') {
        const c = await UK.request('POST', '/auth/qr/' + encodeURIComponent(me.id) + '/claim', {}, { 'X-CSRF-Token': me.csrf });
        if (c.status === 200) {
          clearInterval(scanTick);
          loggedIn(c.json);
        } else {
          UK.showError($('scan-err'), UK.errorOf(c));
          scanCover('');
        }
        scanStop();
        return;
      }
      if (state === 'expired' || state === 'cancelled' || state === 'claimed') {
        scanStop();
        return;
      }
    }
  }

  /* --- password --- */
  async function pwLogin(ev) {
    ev.preventDefault();
    const box = $('pw-err');
    UK.hide(box);
    const login = $('pw-login').value.trim();
    const pw = $('pw-password').value;
    if (!login || !pw) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('pw.missing') });
      (login ? $('pw-password') : $('pw-login')).focus();
      return;
    }
    const btn = $('pw-submit');
    btn.disabled = true;
    btn.textContent = UK.t('login.busy');
    try {
      const ch = await challenge();
      const ans = await UK.request('POST', '/auth/password', { login: login, password: pw }, { 'X-CSRF-Token': ch.csrf });
      if (ans.status === 200) {
        UK.showInfo(box, UK.t('login.ok'), 'ok');
        loggedIn(ans.json);
        return;
      }
      const err = UK.errorOf(ans);
      const extra = [];
      if (typeof err.triesLeft === 'number' && err.message.indexOf(String(err.triesLeft)) < 0) {
        extra.push(UK.t('pw.tries', err.triesLeft));
      }
      if (err.frozenUntil) {
        /* the wrong password that froze the account says so too */
        if (err.code !== 'UK-4103') {
          extra.push(UK.t('pw.frozen'));
        }
        extra.push(UK.t('pw.frozen_until', UK.when(err.frozenUntil)));
      }
      UK.showError(box, err, extra);
      $('pw-password').value = '';
      $('pw-password').focus();
    } catch (e) {
      UK.showError(box, e && e.code ? e : UK.errorOf(null));
    } finally {
      btn.disabled = false;
      btn.textContent = UK.t('login.submit');
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    UK.init();
    tabs.forEach(function (n) {
      const tab = $('tab-' + n);
      tab.addEventListener('click', function () { select(n, false); });
      tab.addEventListener('keydown', tabKeys);
    });
    $('cert-form').addEventListener('submit', certLogin);
    $('cert-refresh').addEventListener('click', agentRefresh);
    $('cert-list').addEventListener('change', function (ev) {
      if (ev.target && ev.target.name === 'cert' && ev.target.checked) {
        wanted = ev.target.value;
      }
    });
    $('qr-refresh').addEventListener('click', scanStart);
    $('pw-form').addEventListener('submit', pwLogin);
    document.addEventListener('uk-lang', function () {
      renderCerts();
      if (scan) {
        scanShowState(scan.state);
      }
      if (!$('agent-msg').hidden && !agentState) {
        agentDown();
      }
    });
    document.addEventListener('visibilitychange', function () {
      if (!document.hidden && current === 'cert') {
        agentRefresh();
      }
    });
    select((window.location.hash || '#cert').slice(1), false);
  });
})();
