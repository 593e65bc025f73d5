/* web/assets/counter.js: the bank counter console: search units and operators, the unit and operator views (agreement, authorisation, certificates N / 2, operators), and every counter act with its application form number, including enrolment, certificate installation and PIN unblock on a UKey through the counter PC's agent (counter mode). */
'use strict';

(function () {
  UK.strings({
    'ctr.title': ['柜台业务', 'Counter console'],
    'ctr.logout': ['退出登录', 'Log out'],
    'ctr.who': ['柜员：{0}（{1}）', 'Clerk: {0} ({1})'],
    'ctr.search': ['查询单位或经办人', 'Find a unit or an operator'],
    'ctr.search_label': ['单位账号、名称、统一社会信用代码、登录名、身份证号码或手机号码', 'Unit account, name, USCC, login name, resident ID or phone'],
    'ctr.search_go': ['查询', 'Search'],
    'ctr.search_none': ['没有找到匹配的单位或经办人', 'No unit or operator matches'],
    'ctr.units': ['单位', 'Units'],
    'ctr.operators': ['经办人', 'Operators'],
    'ctr.unit_add': ['登记新单位', 'Register a unit'],
    'ctr.empty': ['输入查询条件，或登记新单位。每项业务都须填写申请表编号，并记入审计日志。', 'Search, or register a new unit. Every act needs the application form number and is written to the audit trail.'],
    'ctr.keys': ['快捷键：Alt+S 查询，Esc 关闭当前业务。', 'Keys: Alt+S search, Esc closes the open act.'],
    'ctr.login': ['登录名', 'Login'],
    'ctr.name': ['姓名', 'Name'],
    'ctr.roles': ['岗位', 'Roles'],
    'ctr.status': ['状态', 'Status'],
    'ctr.certs': ['证书', 'Certificates'],
    'ctr.serial': ['序列号', 'Serial'],
    'ctr.holder': ['持有人', 'Holder'],
    'ctr.not_after': ['有效期至', 'Valid until'],
    'ctr.subject': ['主题', 'Subject'],
    'ctr.none': ['无', 'None'],
    'ctr.open': ['打开', 'Open'],
    'ctr.cancel': ['取消', 'Cancel'],
    'ctr.formno': ['申请表编号', 'Application form number'],
    'ctr.formno_hint': ['《网上业务用户变更申请表》等申请材料上的编号，记入审计日志', 'The number on the application form; it goes into the audit trail'],
    'ctr.formno_missing': ['请填写申请表编号', 'Enter the application form number'],
    'ctr.field_missing': ['请填写：{0}', 'Please fill in: {0}'],
    'ctr.done': ['已办理。审计事件编号：{0}', 'Done. Audit event number: {0}'],
    'ctr.unit_id': ['单位账号', 'Unit account'],
    'ctr.unit_name': ['单位名称', 'Unit name'],
    'ctr.uscc': ['统一社会信用代码', 'Unified social credit code'],
    'ctr.agreement': ['网上自主协议', 'Online-service agreement'],
    'ctr.authorized': ['网厅用户授权', 'Online hall authorisation'],
    'ctr.signed': ['已签订（{0}，申请表 {1}）', 'Signed ({0}, form {1})'],
    'ctr.unsigned': ['未签订', 'Not signed'],
    'ctr.authed': ['已办理（{0}，申请表 {1}）', 'Done ({0}, form {1})'],
    'ctr.unauthed': ['未办理', 'Not done'],
    'ctr.unit_status': ['单位状态', 'Unit status'],
    'st.active': ['正常', 'Active'],
    'st.closed': ['已注销', 'Closed'],
    'st.left': ['已离职', 'Left'],
    'st.disabled': ['已停用', 'Deactivated'],
    'st.revoked': ['已吊销', 'Revoked'],
    'st.expired': ['已过期', 'Expired'],
    'ctr.limit': ['有效证书 {0} / {1}', 'Active certificates {0} / {1}'],
    'ctr.limit_full': ['有效证书 {0} / {1}：已达上限。新发证书须先吊销一张，或对现有证书办理“换发”。', 'Active certificates {0} / {1}: the limit. Revoke one first, or reissue an existing certificate.'],
    'ctr.resident': ['身份证号码', 'Resident ID'],
    'ctr.phone': ['手机号码', 'Phone'],
    'ctr.wechat': ['微信', 'WeChat'],
    'ctr.wechat_yes': ['已绑定', 'Bound'],
    'ctr.wechat_no': ['未绑定', 'Not bound'],
    'ctr.password': ['登录密码', 'Password'],
    'pw.none': ['未设置', 'None'],
    'pw.temporary': ['临时密码（首次登录须修改）', 'Temporary (must be changed at first login)'],
    'pw.set': ['已设置', 'Set'],
    'ctr.frozen': ['冻结至', 'Frozen until'],
    'ctr.fails': ['连续错误次数', 'Failed attempts'],
    'role.maker': ['录入', 'Maker'],
    'role.checker': ['复核', 'Checker'],
    'role.admin': ['专管员', 'Administrator'],
    'ctr.roles_hint': ['可多选；不选表示无岗位', 'Any number of them; none: no role'],
    'ctr.roles_change_hint': ['都不选表示岗位不变', 'None ticked: the roles stay as they are'],
    'act.unit_add': ['登记新单位', 'Register a unit'],
    'act.agreement': ['签订网上自主协议', 'Record the signed agreement'],
    'act.authorize': ['办理网厅用户授权', 'Authorise the online hall'],
    'act.revoke_auth': ['撤销网厅用户授权', 'Withdraw the hall authorisation'],
    'act.op_add': ['登记经办人', 'Register an operator'],
    'act.op_change': ['变更经办人信息', 'Change the operator'],
    'act.op_leave': ['经办人离职', 'Operator left'],
    'act.op_disable': ['停用经办人', 'Deactivate'],
    'act.op_enable': ['恢复经办人', 'Reactivate'],
    'act.unfreeze': ['解除密码冻结', 'Lift the password freeze'],
    'act.reset': ['重置登录密码', 'Reset the password'],
    'act.unbind_wx': ['解除微信绑定', 'Unbind WeChat'],
    'act.issue_ukey': ['发放证书（写入UKey）', 'Issue a certificate onto a UKey'],
    'act.issue_csr': ['发放证书（上传证书请求）', 'Issue from an uploaded CSR'],
    'act.revoke': ['吊销', 'Revoke'],
    'act.reissue': ['换发', 'Reissue'],
    'act.unblock': ['UKey解锁（重置PIN码）', 'Unblock a UKey PIN'],
    'act.leave_note': ['离职后该经办人不能再登录，其会话立即失效；其证书请另行吊销。如单位需新经办人，请登记新经办人。', 'The operator can no longer log in and their sessions end; revoke their certificates separately. Register a new operator if the unit needs one.'],
    'act.disable_note': ['停用后该经办人不能以任何方式登录，会话立即失效。', 'No login of any kind; sessions end at once.'],
    'act.reset_note': ['系统生成临时密码：已绑定手机时以短信发送；否则仅在本页显示一次，请当面交给经办人。经办人首次登录须修改密码。', 'A temporary password is generated: sent by SMS to the bound phone, or shown once here to hand over in person. It must be changed at the first login.'],
    'act.agreement_note': ['确认单位已签订《网上自主协议》。未签订协议的单位不能登录网厅。', 'Confirm the unit signed the online-service agreement; without it no login.'],
    'act.authorize_note': ['须先签订网上自主协议。', 'The agreement must be signed first.'],
    'act.revoke_note': ['吊销后该证书立即不能登录。', 'The certificate stops working at once.'],
    'act.reissue_note': ['原证书吊销（已被取代）并为同一经办人发放新证书，在同一事务内完成，不受两张上限影响。', 'The old certificate is revoked (superseded) and a new one issued for the same operator in one step; the limit does not block it.'],
    'act.csr_note': ['粘贴PEM格式的证书请求（PKCS#10），或选择文件。', 'Paste a PKCS#10 request in PEM, or choose a file.'],
    'act.ukey_note': ['请把经办人的UKey插入本机。将在UKey内生成新密钥，签发证书后写回UKey。', 'Plug the operator\'s UKey into this PC: a new key is made on it, the certificate issued and written back.'],
    'act.unblock_note': ['使用管理员PIN码（SO PIN）解锁，并设置新的用户PIN码。', 'Unblocks with the SO PIN and sets a new user PIN.'],
    'f.id': ['单位账号', 'Unit account'],
    'f.name': ['名称 / 姓名', 'Name'],
    'f.uscc': ['统一社会信用代码（可选）', 'USCC (optional)'],
    'f.login': ['登录名', 'Login name'],
    'f.residentId': ['身份证号码（可选）', 'Resident ID (optional)'],
    'f.phone': ['手机号码（可选，用于短信）', 'Phone (optional, for SMS)'],
    'f.phone_change': ['手机号码（留空表示不变；填“-”清除）', 'Phone (empty: unchanged; "-" clears it)'],
    'f.name_change': ['姓名（留空表示不变）', 'Name (empty: unchanged)'],
    'f.roles_change': ['岗位（留空表示不变）', 'Roles (empty: unchanged)'],
    'f.roles': ['岗位', 'Roles'],
    'f.csr': ['证书请求', 'Certificate request'],
    'f.csr_file': ['或选择文件', 'or choose a file'],
    'f.reason': ['吊销原因', 'Reason'],
    'f.token': ['UKey', 'UKey'],
    'f.pin': ['UKey用户PIN码', 'UKey user PIN'],
    'f.so_pin': ['管理员PIN码（SO PIN）', 'SO PIN'],
    'f.new_pin': ['新用户PIN码', 'New user PIN'],
    'f.pin_agent': ['PIN码将由本机UKey助手弹出的窗口输入。', 'The agent on this PC will ask for the PINs in its own window.'],
    'r.keyCompromise': ['UKey丢失或密钥泄露', 'UKey lost or key compromised'],
    'r.affiliationChanged': ['经办人离职或变更', 'Operator left or changed'],
    'r.superseded': ['已被新证书取代', 'Superseded'],
    'r.cessationOfOperation': ['单位注销或停止使用', 'No longer used'],
    'r.unspecified': ['其他', 'Other'],
    'pw.sms': ['临时密码已通过短信发送至 {0}。经办人首次登录须修改密码。', 'The temporary password went by SMS to {0}. It must be changed at the first login.'],
    'pw.clerk': ['临时密码（仅显示这一次，请当面交给经办人；首次登录须修改）：', 'Temporary password (shown only this once; hand it over in person; to be changed at first login):'],
    'pw.no_phone': ['该经办人未登记手机号码，未发送短信。', 'The operator has no phone on file: no SMS.'],
    'pw.sms_off': ['本中心未开通短信发送，未发送短信。', 'SMS is not set up at this centre: no SMS.'],
    'pw.sms_failed': ['短信未能加入发送队列。', 'The SMS could not be queued.'],
    'cert.issued': ['证书已签发：序列号 {0}，有效期至 {1}。审计事件编号：{2}', 'Certificate issued: serial {0}, valid until {1}. Audit event number: {2}'],
    'cert.issued_ok': ['证书已签发：序列号 {0}，有效期至 {1}。', 'Certificate issued: serial {0}, valid until {1}.'],
    'cert.download': ['下载证书（PEM）', 'Download the certificate (PEM)'],
    'step.agent': ['连接本机UKey助手', 'Reach the agent on this PC'],
    'step.enroll': ['在UKey内生成密钥和证书请求', 'Key pair and request on the UKey'],
    'step.issue': ['签发证书', 'Issue the certificate'],
    'step.install': ['把证书写入UKey', 'Write the certificate to the UKey'],
    'step.record': ['记录结果', 'Record the outcome'],
    'step.unlock': ['解锁UKey并设置新PIN码', 'Unblock the UKey, set the new PIN'],
    'step.retry': ['重新写入UKey', 'Write to the UKey again'],
    'agent.ok': ['UKey助手：已连接（柜台模式）', 'Agent: connected (counter mode)'],
    'agent.no_counter': ['UKey助手未开启柜台模式（counter_mode = true）', 'The agent is not in counter mode (counter_mode = true)'],
    'agent.down': ['UKey助手：未连接', 'Agent: not reachable'],
    'agent.no_token': ['未检测到UKey，请插入经办人的UKey后重试', 'No UKey found: plug in the operator\'s UKey and retry'],
    'agent.err': ['本机UKey助手未响应。请确认已安装并启动，柜台模式已开启，且允许本网站地址。', 'The agent on this PC did not answer. Check it runs, is in counter mode and allows this site.'],
    'ctr.counter_off': ['本网关未开通证书业务（[counter] enabled），证书发放、吊销和换发暂不可用。', 'Certificate acts are off at this gateway ([counter] enabled).'],
    'ctr.ext': ['外部CA证书', 'External CA certificate'],
    'rm.formno': ['填写《网上业务用户变更申请表》等申请材料上的编号后再办理', 'Enter the number on the application form, then submit again'],
    'rm.field': ['按申请表填写该项后再办理', 'Fill it in from the application form, then submit again'],
    'rm.agent': ['在本机启动 ukey-agent（柜台模式），然后运行 ukey-agent doctor 检查', 'Start ukey-agent (counter mode) on this PC, then run ukey-agent doctor'],
    'rm.counter_mode': ['在本机 ukey-agent 的配置中设置 counter_mode = true 并重启UKey助手', 'Set counter_mode = true in this PC\'s ukey-agent configuration and restart it'],
    'rm.token': ['插入经办人的UKey，再重新选择；仍无法识别时运行 ukey-agent doctor', 'Plug in the operator\'s UKey and choose it again; if it is still not seen, run ukey-agent doctor']
  });

  const $ = function (id) { return document.getElementById(id); };
  const AGENT = 'http://127.0.0.1:' + agentPort();
  let session = null;
  let status = { counter: false, sms: false, certLimit: 2 };
  let agent = null; /* the agent's /v1/status, or null */
  let view = null;  /* {kind: 'unit'|'operator', key, data} */
  let current = null; /* the open act */
  let lastForm = '';
  let found = null; /* the last search's answer */

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

  /* --- the gateway --- */

  function csrfHdr() {
    return { 'X-CSRF-Token': session && session.csrf ? session.csrf : '' };
  }

  /* A call to the counter API; resolves to {ok, json, err}. */
  async function api(method, sub, body) {
    let ans;
    try {
      ans = await UK.request(method, '/counter/api/' + sub, body, method === 'POST' ? csrfHdr() : undefined);
    } catch (e) {
      return { ok: false, err: UK.errorOf(null) };
    }
    if (ans.status === 401) {
      toLogin();
      return { ok: false, err: UK.errorOf(ans) };
    }
    if (ans.status !== 200 || !ans.json) {
      return { ok: false, err: UK.errorOf(ans), status: ans.status };
    }
    return { ok: true, json: ans.json };
  }

  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent('/counter'));
  }

  /* --- the agent --- */

  /* A call to the agent; resolves to {ok, json, err}. */
  async function agentCall(method, path, body) {
    let ans;
    try {
      ans = await UK.request(method, AGENT + path, body);
    } catch (e) {
      return { ok: false, err: agentDown() };
    }
    if (ans.status !== 200 || !ans.json) {
      return { ok: false, err: UK.errorOf(ans, agentDown()) };
    }
    return { ok: true, json: ans.json };
  }

  /* The page's own errors about the agent: code, message and remedy (no
   * event number: the gateway was not asked). */
  function agentDown() {
    return { code: 'UK-4301', message: UK.t('agent.err'), remedy: UK.t('rm.agent') };
  }

  function agentNotCounter() {
    return { code: 'UK-4301', message: UK.t('agent.no_counter'), remedy: UK.t('rm.counter_mode') };
  }

  function noToken() {
    return { code: 'UK-2002', message: UK.t('agent.no_token'), remedy: UK.t('rm.token') };
  }

  async function agentRefresh() {
    const a = await agentCall('GET', '/v1/status');
    agent = a.ok ? a.json : null;
    const el = $('agent-state');
    if (!agent) {
      el.textContent = UK.t('agent.down');
    } else if (!agent.counterMode) {
      el.textContent = UK.t('agent.no_counter');
    } else {
      el.textContent = UK.t('agent.ok');
    }
    return agent;
  }

  function pinsInRequest() {
    return agent && agent.pinSource === 'request';
  }

  /* --- small helpers --- */

  function fact(dl, k, v) {
    dl.appendChild(UK.el('dt', null, UK.t(k)));
    const dd = UK.el('dd');
    if (v instanceof Node) {
      dd.appendChild(v);
    } else {
      dd.textContent = v === null || v === undefined || v === '' ? '-' : String(v);
    }
    dl.appendChild(dd);
  }

  function badge(text, kind) {
    return UK.el('span', 'ctr-badge' + (kind ? ' ' + kind : ''), text);
  }

  function statusBadge(s) {
    return badge(UK.t('st.' + s), s === 'active' ? 'ok' : 'bad');
  }

  function roles(list) {
    return (list || []).length ? list.map(function (r) { return UK.t('role.' + r); }).join('、') : UK.t('ctr.none');
  }

  function btn(labelKey, fn, cls) {
    const b = UK.el('button', cls || 'secondary', UK.t(labelKey));
    b.type = 'button';
    b.addEventListener('click', fn);
    return b;
  }

  function limitBox(box, n, max) {
    box.textContent = UK.t(n >= max ? 'ctr.limit_full' : 'ctr.limit', n, max);
    box.className = 'ctr-limit' + (n >= max ? ' ctr-full' : '');
  }

  function certState(c) {
    if (c.status === 'revoked') {
      return badge(UK.t('st.revoked') + (c.reason ? ' · ' + (UK.t('r.' + c.reason) !== 'r.' + c.reason ? UK.t('r.' + c.reason) : c.reason) : ''), 'bad');
    }
    if (c.expired) {
      return badge(UK.t('st.expired'), 'warn');
    }
    return badge(UK.t('st.active'), 'ok');
  }

  /* --- search --- */

  async function search(ev) {
    if (ev) {
      ev.preventDefault();
    }
    const q = $('q').value.trim();
    found = null;
    $('results').textContent = '';
    if (!q) {
      $('q').focus();
      return;
    }
    const a = await api('GET', 'search?q=' + encodeURIComponent(q));
    if (!a.ok) {
      const m = UK.el('div', 'msg');
      $('results').appendChild(m);
      UK.showError(m, a.err);
      return;
    }
    found = a.json;
    renderResults();
  }

  /* The last search's answer (also after a language switch). */
  function renderResults() {
    const box = $('results');
    box.textContent = '';
    if (!found) {
      return;
    }
    const us = found.units || [];
    const os = found.operators || [];
    if (!us.length && !os.length) {
      box.appendChild(UK.el('p', 'muted', UK.t('ctr.search_none')));
      return;
    }
    if (us.length) {
      box.appendChild(UK.el('h3', null, UK.t('ctr.units')));
      us.forEach(function (u) {
        const b = UK.el('button', 'ctr-hit', u.name);
        b.type = 'button';
        b.appendChild(UK.el('small', null, u.id + (u.uscc ? ' · ' + u.uscc : '') + ' · ' + UK.t('ctr.limit', u.activeCerts, u.certLimit)));
        b.addEventListener('click', function () { openUnit(u.id); });
        box.appendChild(b);
      });
    }
    if (os.length) {
      box.appendChild(UK.el('h3', null, UK.t('ctr.operators')));
      os.forEach(function (o) {
        const b = UK.el('button', 'ctr-hit', o.name + ' (' + o.login + ')');
        b.type = 'button';
        b.appendChild(UK.el('small', null, o.unit + ' · ' + UK.t('st.' + o.status) + (o.phone ? ' · ' + o.phone : '')));
        b.addEventListener('click', function () { openOperator(o.login); });
        box.appendChild(b);
      });
    }
  }

  /* --- views --- */

  function showView(which) {
    $('empty').hidden = which !== null;
    $('unit-view').hidden = which !== 'unit';
    $('op-view').hidden = which !== 'operator';
  }

  async function openUnit(id, keepAct) {
    const a = await api('GET', 'unit?id=' + encodeURIComponent(id));
    if (!a.ok) {
      UK.showError($('page-msg'), a.err);
      return;
    }
    UK.hide($('page-msg'));
    view = { kind: 'unit', key: id, data: a.json };
    if (!keepAct) {
      closeAct();
    }
    renderUnit();
    showView('unit');
    if (!keepAct) {
      $('unit-h').focus();
    }
  }

  async function openOperator(login, keepAct) {
    const a = await api('GET', 'operator?login=' + encodeURIComponent(login));
    if (!a.ok) {
      UK.showError($('page-msg'), a.err);
      return;
    }
    UK.hide($('page-msg'));
    view = { kind: 'operator', key: a.json.operator.login, data: a.json };
    if (!keepAct) {
      closeAct();
    }
    renderOperator();
    showView('operator');
    if (!keepAct) {
      $('op-h').focus();
    }
  }

  function refresh() {
    if (!view) {
      return Promise.resolve();
    }
    return view.kind === 'unit' ? openUnit(view.key, true) : openOperator(view.key, true);
  }

  function renderUnit() {
    const d = view.data;
    const u = d.unit;
    const h = $('unit-h');
    h.textContent = u.name + ' (' + u.id + ')';
    h.tabIndex = -1;
    const dl = $('unit-facts');
    dl.textContent = '';
    fact(dl, 'ctr.unit_id', u.id);
    fact(dl, 'ctr.uscc', u.uscc);
    fact(dl, 'ctr.unit_status', statusBadge(u.status));
    fact(dl, 'ctr.agreement', u.agreementAt ? UK.t('ctr.signed', UK.when(u.agreementAt), u.agreementForm || '-') : badge(UK.t('ctr.unsigned'), 'warn'));
    fact(dl, 'ctr.authorized', u.authorizedAt ? UK.t('ctr.authed', UK.when(u.authorizedAt), u.authorizedForm || '-') : badge(UK.t('ctr.unauthed'), 'warn'));
    limitBox($('limit-box'), u.activeCerts, u.certLimit);
    const acts = $('unit-acts');
    acts.textContent = '';
    if (u.status === 'active') {
      if (!u.agreementAt) {
        acts.appendChild(btn('act.agreement', function () { openAct('agreement'); }, 'primary'));
      }
      if (u.agreementAt && !u.authorizedAt) {
        acts.appendChild(btn('act.authorize', function () { openAct('authorize'); }, 'primary'));
      }
      if (u.authorizedAt) {
        acts.appendChild(btn('act.revoke_auth', function () { openAct('revoke_auth'); }));
      }
      acts.appendChild(btn('act.op_add', function () { openAct('op_add'); }));
    }
    const tb = $('unit-ops').querySelector('tbody');
    tb.textContent = '';
    (d.operators || []).forEach(function (o) {
      const tr = UK.el('tr');
      tr.appendChild(UK.el('td', 'ctr-mono', o.login));
      tr.appendChild(UK.el('td', null, o.name));
      tr.appendChild(UK.el('td', null, roles(o.roles)));
      const st = UK.el('td');
      st.appendChild(statusBadge(o.status));
      tr.appendChild(st);
      const td = UK.el('td');
      td.appendChild(btn('ctr.open', function () { openOperator(o.login); }));
      tr.appendChild(td);
      tb.appendChild(tr);
    });
    if (!(d.operators || []).length) {
      const tr = UK.el('tr');
      const td = UK.el('td', 'muted', UK.t('ctr.none'));
      td.colSpan = 5;
      tr.appendChild(td);
      tb.appendChild(tr);
    }
    const cb = $('unit-certs').querySelector('tbody');
    cb.textContent = '';
    (d.certificates || []).forEach(function (c) {
      const tr = UK.el('tr');
      tr.appendChild(UK.el('td', 'ctr-mono', c.serial));
      tr.appendChild(UK.el('td', null, c.operator || '-'));
      const st = UK.el('td');
      st.appendChild(certState(c));
      tr.appendChild(st);
      tr.appendChild(UK.el('td', null, UK.when(c.notAfter)));
      cb.appendChild(tr);
    });
  }

  function renderOperator() {
    const d = view.data;
    const o = d.operator;
    const u = d.unit;
    $('op-unit-link').textContent = '← ' + u.name + ' (' + u.id + ')';
    const h = $('op-h');
    h.textContent = o.name + ' (' + o.login + ')';
    h.tabIndex = -1;
    const dl = $('op-facts');
    dl.textContent = '';
    fact(dl, 'ctr.status', statusBadge(o.status));
    fact(dl, 'ctr.roles', roles(o.roles));
    fact(dl, 'ctr.resident', o.residentId);
    fact(dl, 'ctr.phone', o.phone);
    fact(dl, 'ctr.wechat', UK.t(o.wechatBound ? 'ctr.wechat_yes' : 'ctr.wechat_no'));
    fact(dl, 'ctr.password', UK.t('pw.' + o.password));
    if (o.frozenUntil && o.frozenUntil * 1000 > Date.now()) {
      fact(dl, 'ctr.frozen', badge(UK.when(o.frozenUntil), 'bad'));
    }
    if (o.failCount) {
      fact(dl, 'ctr.fails', o.failCount);
    }
    limitBox($('op-limit'), u.activeCerts, u.certLimit);
    const acts = $('op-acts');
    acts.textContent = '';
    const full = u.activeCerts >= u.certLimit;
    if (o.status === 'active') {
      const i1 = btn('act.issue_ukey', function () { openAct('issue_ukey'); }, 'primary');
      const i2 = btn('act.issue_csr', function () { openAct('issue_csr'); });
      i1.disabled = i2.disabled = full || !status.counter;
      acts.appendChild(i1);
      acts.appendChild(i2);
      acts.appendChild(btn('act.reset', function () { openAct('reset'); }));
      acts.appendChild(btn('act.op_change', function () { openAct('op_change'); }));
      if (o.frozenUntil && o.frozenUntil * 1000 > Date.now()) {
        acts.appendChild(btn('act.unfreeze', function () { openAct('unfreeze'); }));
      }
      if (o.wechatBound) {
        acts.appendChild(btn('act.unbind_wx', function () { openAct('unbind_wx'); }));
      }
      acts.appendChild(btn('act.op_disable', function () { openAct('op_disable'); }));
      acts.appendChild(btn('act.op_leave', function () { openAct('op_leave'); }));
    } else if (o.status === 'disabled') {
      acts.appendChild(btn('act.op_enable', function () { openAct('op_enable'); }, 'primary'));
      acts.appendChild(btn('act.op_leave', function () { openAct('op_leave'); }));
    }
    acts.appendChild(btn('act.unblock', function () { openAct('unblock'); }));
    const tb = $('op-certs').querySelector('tbody');
    tb.textContent = '';
    (d.certificates || []).forEach(function (c) {
      const tr = UK.el('tr');
      tr.appendChild(UK.el('td', 'ctr-mono', c.serial || (c.sha256 || '').slice(0, 16) + '…'));
      const st = UK.el('td');
      st.appendChild(certState(c));
      if (c.source === 'external') {
        st.appendChild(document.createTextNode(' '));
        st.appendChild(badge(UK.t('ctr.ext')));
      }
      tr.appendChild(st);
      tr.appendChild(UK.el('td', null, UK.when(c.notAfter)));
      tr.appendChild(UK.el('td', 'ctr-mono', c.subject || ''));
      const td = UK.el('td');
      if (c.source === 'ca' && c.status === 'active' && status.counter) {
        td.appendChild(btn('act.revoke', function () { openAct('revoke', { serial: c.serial }); }));
        if (o.status === 'active') {
          td.appendChild(btn('act.reissue', function () { openAct('reissue', { serial: c.serial }); }));
        }
      }
      tr.appendChild(td);
      tb.appendChild(tr);
    });
    if (!(d.certificates || []).length) {
      const tr = UK.el('tr');
      const td = UK.el('td', 'muted', UK.t('ctr.none'));
      td.colSpan = 5;
      tr.appendChild(td);
      tb.appendChild(tr);
    }
  }

  /* --- acts --- */

  const REASONS = ['keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'unspecified'];

  /*
   * Each act: title, note, fields [{k, label, type: text|textarea|select|
   * password|file, req, opts, hint}], the API path and the body it sends
   * (from the fields and the view), or run: a custom flow.
   */
  function acts() {
    const u = view && view.kind === 'unit' ? view.data.unit : view && view.data.unit;
    const o = view && view.kind === 'operator' ? view.data.operator : null;
    return {
      unit_add: { title: 'act.unit_add', path: 'unit/add',
        fields: [{ k: 'id', label: 'f.id', req: true, max: 64 }, { k: 'name', label: 'ctr.unit_name', req: true, max: 128 }, { k: 'uscc', label: 'f.uscc', max: 18 }],
        after: function (v) { return openUnit(v.id); } },
      agreement: { title: 'act.agreement', note: 'act.agreement_note', path: 'unit/agreement', body: function () { return { id: u.id }; } },
      authorize: { title: 'act.authorize', note: 'act.authorize_note', path: 'unit/authorize', body: function () { return { id: u.id }; } },
      revoke_auth: { title: 'act.revoke_auth', path: 'unit/revoke-authorization', body: function () { return { id: u.id }; } },
      op_add: { title: 'act.op_add', path: 'operator/add',
        fields: [{ k: 'login', label: 'f.login', req: true, max: 64 }, { k: 'name', label: 'ctr.name', req: true, max: 128 },
          { k: 'residentId', label: 'f.residentId', max: 18 }, { k: 'phone', label: 'f.phone', max: 11 },
          { k: 'roles', label: 'f.roles', type: 'roles', hint: 'ctr.roles_hint' }],
        body: function (v) { v.unit = u.id; return v; },
        after: function (v) { return openOperator(v.login); } },
      op_change: { title: 'act.op_change', path: 'operator/change',
        fields: [{ k: 'name', label: 'f.name_change', max: 128 }, { k: 'phone', label: 'f.phone_change', max: 11 },
          { k: 'roles', label: 'f.roles_change', type: 'roles', hint: 'ctr.roles_change_hint' }],
        body: function (v) {
          const b = { login: o.login };
          if (v.name) { b.name = v.name; }
          if (v.phone) { b.phone = v.phone === '-' ? '' : v.phone; }
          if (v.roles) { b.roles = v.roles; }
          return b;
        } },
      op_leave: { title: 'act.op_leave', note: 'act.leave_note', path: 'operator/leave', body: function () { return { login: o.login }; } },
      op_disable: { title: 'act.op_disable', note: 'act.disable_note', path: 'operator/disable', body: function () { return { login: o.login }; } },
      op_enable: { title: 'act.op_enable', path: 'operator/enable', body: function () { return { login: o.login }; } },
      unfreeze: { title: 'act.unfreeze', path: 'operator/unfreeze', body: function () { return { login: o.login }; } },
      unbind_wx: { title: 'act.unbind_wx', path: 'operator/unbind-wechat', body: function () { return { login: o.login }; } },
      reset: { title: 'act.reset', note: 'act.reset_note', path: 'operator/reset-password', body: function () { return { login: o.login }; },
        show: showReset },
      issue_csr: { title: 'act.issue_csr', note: 'act.csr_note', path: 'cert/issue',
        fields: [{ k: 'csr', label: 'f.csr', type: 'textarea', req: true }, { k: 'csrfile', label: 'f.csr_file', type: 'file' }],
        body: function (v) { return { login: o.login, csr: v.csr }; }, show: showIssued },
      issue_ukey: { title: 'act.issue_ukey', note: 'act.ukey_note', ukey: true, pins: ['pin'],
        run: function (form, v) { return ukeyIssue(form, v, null); } },
      revoke: { title: 'act.revoke', note: 'act.revoke_note', path: 'cert/revoke',
        fields: [{ k: 'reason', label: 'f.reason', type: 'select', req: true, opts: REASONS.map(function (r) { return [r, 'r.' + r]; }) }],
        body: function (v, extra) { return { serial: extra.serial, reason: v.reason }; } },
      reissue: { title: 'act.reissue', note: 'act.reissue_note', ukey: true, pins: ['pin'], csrOption: true,
        run: function (form, v, extra) { return ukeyIssue(form, v, extra.serial); } },
      unblock: { title: 'act.unblock', note: 'act.unblock_note', ukey: true, pins: ['soPin', 'newPin'],
        run: ukeyUnblock }
    };
  }

  const ROLES = ['maker', 'checker', 'admin'];

  /* Roles as tick boxes (the API takes them space-separated). */
  function rolesEl(f) {
    const wrap = UK.el('fieldset', 'field ctr-roles');
    wrap.dataset.k = f.k;
    wrap.appendChild(UK.el('legend', null, UK.t(f.label)));
    ROLES.forEach(function (r) {
      const lab = UK.el('label', 'ctr-check');
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = 'f-' + f.k + '-' + r;
      box.value = r;
      lab.appendChild(box);
      lab.appendChild(document.createTextNode(' ' + UK.t('role.' + r)));
      wrap.appendChild(lab);
    });
    if (f.hint) {
      wrap.appendChild(UK.el('p', 'muted', UK.t(f.hint)));
    }
    return wrap;
  }

  function fieldEl(f) {
    if (f.type === 'roles') {
      return rolesEl(f);
    }
    const wrap = UK.el('div', 'field');
    wrap.dataset.k = f.k;
    const id = 'f-' + f.k;
    const lab = UK.el('label', null, UK.t(f.label));
    lab.htmlFor = id;
    if (f.req) {
      const star = UK.el('span', 'ctr-req', ' *');
      star.setAttribute('aria-hidden', 'true');
      lab.appendChild(star);
    }
    wrap.appendChild(lab);
    let input;
    if (f.type === 'textarea') {
      input = document.createElement('textarea');
      input.spellcheck = false;
    } else if (f.type === 'select') {
      input = document.createElement('select');
      f.opts.forEach(function (p) {
        const op = UK.el('option', null, UK.t(p[1]));
        op.value = p[0];
        input.appendChild(op);
      });
    } else {
      input = document.createElement('input');
      input.type = f.type === 'password' ? 'password' : f.type === 'file' ? 'file' : 'text';
      if (f.type === 'file') {
        input.accept = '.csr,.pem,.req,.der';
      } else {
        input.autocomplete = 'off';
      }
      if (f.max) {
        input.maxLength = f.max;
      }
    }
    input.id = id;
    if (f.req) {
      input.required = true;
    }
    wrap.appendChild(input);
    if (f.hint) {
      wrap.appendChild(UK.el('p', 'muted', UK.t(f.hint)));
    }
    return wrap;
  }

  function openAct(name, extra) {
    const A = acts()[name];
    if (!A) {
      return;
    }
    current = { name: name, A: A, extra: extra || {} };
    $('act-h').textContent = UK.t(A.title) + (extra && extra.serial ? ' · ' + extra.serial : '');
    const note = $('act-note');
    note.hidden = !A.note;
    note.textContent = A.note ? UK.t(A.note) : '';
    const box = $('act-fields');
    box.textContent = '';
    let fields = (A.fields || []).slice();
    if (A.ukey) {
      if (A.csrOption) {
        fields.push({ k: 'csr', label: 'f.csr', type: 'textarea', hint: 'act.csr_note' });
      }
      fields.push({ k: 'token', label: 'f.token', type: 'select', req: !A.csrOption, opts: [] });
      if (pinsInRequest()) {
        A.pins.forEach(function (p) {
          fields.push({ k: p, label: p === 'pin' ? 'f.pin' : p === 'soPin' ? 'f.so_pin' : 'f.new_pin', type: 'password', max: 64 });
        });
      }
    }
    fields.forEach(function (f) { box.appendChild(fieldEl(f)); });
    if (A.ukey) {
      if (!pinsInRequest()) {
        box.appendChild(UK.el('p', 'muted', UK.t('f.pin_agent')));
      }
      fillTokens();
    }
    const file = $('f-csrfile');
    if (file) {
      file.addEventListener('change', function () {
        const fl = file.files && file.files[0];
        if (!fl || fl.size > 65536) {
          return;
        }
        fl.text().then(function (t) { $('f-csr').value = t; });
      });
    }
    $('act-go').textContent = UK.t(A.title);
    $('act-go').disabled = false;
    $('act-formno').value = lastForm;
    UK.hide($('act-msg'));
    $('act-steps').hidden = true;
    $('act-steps').textContent = '';
    $('act-form').hidden = false;
    $('act').hidden = false;
    $('act').scrollIntoView({ block: 'nearest' });
    ($('act-formno').value ? (box.querySelector('input,textarea,select') || $('act-go')) : $('act-formno')).focus();
  }

  async function fillTokens() {
    const sel = $('f-token');
    if (!sel) {
      return;
    }
    sel.textContent = '';
    const a = await agentRefresh();
    const toks = a && a.tokens ? a.tokens : [];
    if (!toks.length) {
      const op = UK.el('option', null, UK.t(a ? 'agent.no_token' : 'agent.down'));
      op.value = '';
      sel.appendChild(op);
      return;
    }
    toks.forEach(function (t) {
      const op = UK.el('option', null, (t.label || '') + ' · ' + t.serial + (t.pin && t.pin.state && t.pin.state !== 'OK' ? ' · ' + t.pin.state : ''));
      op.value = t.serial;
      sel.appendChild(op);
    });
  }

  function closeAct() {
    current = null;
    $('act').hidden = true;
  }

  function values() {
    const v = {};
    document.querySelectorAll('#act-fields .field').forEach(function (w) {
      const input = w.querySelector('input,textarea,select');
      if (w.classList.contains('ctr-roles')) {
        v[w.dataset.k] = Array.prototype.map.call(w.querySelectorAll('input:checked'), function (c) { return c.value; }).join(' ');
      } else if (input && input.type !== 'file') {
        v[w.dataset.k] = input.type === 'password' ? input.value : input.value.trim();
      }
      w.classList.remove('field-bad');
    });
    return v;
  }

  function markBad(field) {
    if (field === 'form') {
      $('act-formno').focus();
      return;
    }
    const w = document.querySelector('#act-fields .field[data-k="' + (field === 'login' || field === 'serial' ? '' : field) + '"]');
    if (w) {
      w.classList.add('field-bad');
      const i = w.querySelector('input,textarea,select');
      if (i) {
        i.focus();
      }
    }
  }

  function wipePins() {
    ['f-pin', 'f-soPin', 'f-newPin'].forEach(function (id) {
      if ($(id)) {
        $(id).value = '';
      }
    });
  }

  async function submitAct(ev) {
    ev.preventDefault();
    if (!current) {
      return;
    }
    const A = current.A;
    const msg = $('act-msg');
    UK.hide(msg);
    const form = $('act-formno').value.trim();
    if (!form) {
      UK.showError(msg, { code: 'UK-4604', message: UK.t('ctr.formno_missing'), remedy: UK.t('rm.formno') });
      $('act-formno').focus();
      return;
    }
    const v = values();
    const missing = (A.fields || []).filter(function (f) { return f.req && !v[f.k]; });
    if (missing.length) {
      UK.showError(msg, { code: 'UK-1006', message: UK.t('ctr.field_missing', UK.t(missing[0].label)), remedy: UK.t('rm.field') });
      markBad(missing[0].k);
      return;
    }
    lastForm = form;
    $('act-go').disabled = true;
    try {
      if (A.run) {
        await A.run(form, v, current.extra);
        return;
      }
      const body = A.body ? A.body(v, current.extra) : v;
      body.form = form;
      const a = await api('POST', A.path, body);
      if (!a.ok) {
        UK.showError(msg, a.err);
        if (a.err.field) {
          markBad(a.err.field);
        }
        return;
      }
      const name = current.name;
      if (A.after) {
        await A.after(a.json);
      } else {
        await refresh();
      }
      if (A.show) {
        A.show(a.json);
      } else {
        doneMsg(name, a.json.event);
      }
    } finally {
      wipePins();
      $('act-go').disabled = false;
    }
  }

  /* The outcome stays in the act panel, which then offers no form. */
  function doneMsg(name, event, lines) {
    const A = acts()[name];
    $('act').hidden = false;
    $('act-h').textContent = UK.t(A.title);
    $('act-note').hidden = true;
    $('act-form').hidden = true;
    const msg = $('act-msg');
    UK.showInfo(msg, UK.t('ctr.done', event || '-'), 'ok');
    msg.tabIndex = -1;
    (lines || []).forEach(function (l) { msg.appendChild(l); });
    const c = btn('ctr.cancel', closeAct);
    c.textContent = '×';
    c.setAttribute('aria-label', UK.t('ctr.cancel'));
    msg.appendChild(c);
    msg.focus();
  }

  function showReset(v) {
    const lines = [];
    if (v.delivery === 'sms') {
      lines.push(UK.el('p', null, UK.t('pw.sms', v.phone)));
    } else {
      lines.push(UK.el('p', null, UK.t('pw.' + v.reason)));
      lines.push(UK.el('p', null, UK.t('pw.clerk')));
      lines.push(UK.el('p', 'ctr-secret', v.temporaryPassword));
    }
    doneMsg('reset', v.event, lines);
  }

  function showIssued(v) {
    /* doneMsg says the event number */
    const lines = [UK.el('p', null, UK.t('cert.issued_ok', v.serial, UK.when(v.notAfter)))];
    const a = UK.el('a', null, UK.t('cert.download'));
    a.href = URL.createObjectURL(new Blob([v.certificate], { type: 'application/x-pem-file' }));
    a.download = v.serial + '.pem';
    lines.push(a);
    doneMsg(current ? current.name : 'issue_csr', v.event, lines);
  }

  /* --- the UKey flows through the agent --- */

  function steps(keys) {
    const ol = $('act-steps');
    ol.textContent = '';
    ol.hidden = false;
    keys.forEach(function (k) {
      const li = UK.el('li', null, UK.t(k));
      li.dataset.k = k;
      ol.appendChild(li);
    });
    return function (k, state) {
      const li = ol.querySelector('li[data-k="' + k + '"]');
      if (li) {
        li.className = state;
      }
    };
  }

  function ukeyRecord(form, act, stage, token, serial, outcome) {
    const o = view && view.data.operator;
    const b = { form: form, act: act, stage: stage };
    if (token) { b.token = token; }
    if (o) { b.login = o.login; }
    if (serial) { b.serial = serial; }
    if (outcome) { b.outcome = outcome; }
    return api('POST', 'ukey', b);
  }

  function pinOf(v, k) {
    return pinsInRequest() && v[k] ? v[k] : undefined;
  }

  /* Issue (serial null) or reissue (serial of the certificate replaced):
   * from a pasted CSR, or a key made on the UKey and the certificate
   * written back. */
  async function ukeyIssue(form, v, serial) {
    const msg = $('act-msg');
    const o = view.data.operator;
    const u = view.data.unit;
    const fromCsr = !!v.csr;
    const mark = steps(fromCsr ? ['step.issue'] : ['step.agent', 'step.enroll', 'step.issue', 'step.install', 'step.record']);
    let csr = v.csr;
    let keyId = null;
    if (!fromCsr) {
      mark('step.agent', 'now');
      const ag = await agentRefresh();
      if (!ag || !ag.counterMode) {
        mark('step.agent', 'failed');
        UK.showError(msg, ag ? agentNotCounter() : agentDown());
        return;
      }
      if (!v.token) {
        mark('step.agent', 'failed');
        UK.showError(msg, noToken());
        return;
      }
      mark('step.agent', 'done');
      mark('step.enroll', 'now');
      const en = await agentCall('POST', '/v1/enroll', { subject: '/CN=' + o.login + '/OU=' + u.id, token: v.token, label: o.login, pin: pinOf(v, 'pin') });
      if (!en.ok) {
        mark('step.enroll', 'failed');
        UK.showError(msg, en.err);
        return;
      }
      mark('step.enroll', 'done');
      csr = en.json.csr;
      keyId = en.json.id;
    }
    mark('step.issue', 'now');
    const is = serial ? await api('POST', 'cert/reissue', { form: form, serial: serial, csr: csr })
      : await api('POST', 'cert/issue', { form: form, login: o.login, csr: csr });
    if (!is.ok) {
      mark('step.issue', 'failed');
      UK.showError(msg, is.err);
      return;
    }
    mark('step.issue', 'done');
    if (fromCsr) {
      await refresh();
      showIssued(is.json);
      return;
    }
    await install(form, v, keyId, is.json, mark);
  }

  /* Writes the issued certificate to the UKey and records it; on failure
   * offers to try again (the certificate is issued and stays so). */
  async function install(form, v, keyId, issued, mark) {
    const msg = $('act-msg');
    const token = keyId.split(':')[0];
    mark('step.install', 'now');
    const st = await ukeyRecord(form, 'install', 'start', token, issued.serial);
    if (!st.ok) {
      mark('step.install', 'failed');
      UK.showError(msg, st.err);
      return;
    }
    const ins = await agentCall('POST', '/v1/certificate', { id: keyId, certificate: issued.der, label: view.data.operator.login, pin: pinOf(v, 'pin') });
    mark('step.install', ins.ok ? 'done' : 'failed');
    mark('step.record', 'now');
    const rec = await ukeyRecord(form, 'install', 'done', token, issued.serial, ins.ok ? 'ok' : (ins.err.code || 'UK-2001'));
    mark('step.record', rec.ok ? 'done' : 'failed');
    await refresh();
    if (!ins.ok) {
      UK.showError(msg, ins.err, [UK.t('cert.issued', issued.serial, UK.when(issued.notAfter), issued.event)]);
      const again = btn('step.retry', function () {
        again.remove();
        install(form, v, keyId, issued, mark);
      }, 'primary');
      msg.appendChild(again);
      again.focus();
      return;
    }
    showIssued(issued);
  }

  async function ukeyUnblock(form, v) {
    const msg = $('act-msg');
    const mark = steps(['step.agent', 'step.unlock', 'step.record']);
    mark('step.agent', 'now');
    const ag = await agentRefresh();
    if (!ag || !ag.counterMode || !v.token) {
      mark('step.agent', 'failed');
      UK.showError(msg, !ag ? agentDown() : !ag.counterMode ? agentNotCounter() : noToken());
      return;
    }
    const st = await ukeyRecord(form, 'unblock', 'start', v.token);
    if (!st.ok) {
      mark('step.agent', 'failed');
      UK.showError(msg, st.err);
      return;
    }
    mark('step.agent', 'done');
    mark('step.unlock', 'now');
    const un = await agentCall('POST', '/v1/unlock', { token: v.token, soPin: pinOf(v, 'soPin'), newPin: pinOf(v, 'newPin') });
    mark('step.unlock', un.ok ? 'done' : 'failed');
    mark('step.record', 'now');
    const rec = await ukeyRecord(form, 'unblock', 'done', v.token, null, un.ok ? 'ok' : (un.err.code || 'UK-2001'));
    mark('step.record', rec.ok ? 'done' : 'failed');
    if (!un.ok) {
      UK.showError(msg, un.err);
      return;
    }
    doneMsg('unblock', rec.ok ? rec.json.event : st.json.event);
  }

  /* --- start --- */

  async function logout() {
    try {
      await UK.request('POST', '/auth/logout', {}, csrfHdr());
    } catch (e) {
      /* the login page follows either way */
    }
    toLogin();
  }

  async function load() {
    let ans;
    try {
      ans = await UK.request('GET', '/auth/session');
    } catch (e) {
      UK.showError($('page-msg'), UK.errorOf(null));
      return;
    }
    if (ans.status === 401) {
      toLogin();
      return;
    }
    if (ans.status !== 200 || !ans.json) {
      UK.showError($('page-msg'), UK.errorOf(ans));
      return;
    }
    session = ans.json;
    const a = await api('GET', 'status');
    if (!a.ok) {
      /* an operator's session, or staff without the counter role */
      UK.showError($('page-msg'), a.err);
      $('q').disabled = true;
      $('unit-add').disabled = true;
      return;
    }
    status = a.json;
    $('who').textContent = UK.t('ctr.who', status.staff.name || status.staff.login, status.staff.login);
    if (!status.counter) {
      UK.showInfo($('page-msg'), UK.t('ctr.counter_off'));
    }
    agentRefresh();
    $('q').focus();
  }

  function init() {
    UK.init();
    $('search-form').addEventListener('submit', search);
    $('unit-add').addEventListener('click', function () { view = null; showView(null); openAct('unit_add'); });
    $('act-form').addEventListener('submit', submitAct);
    $('act-cancel').addEventListener('click', closeAct);
    $('logout').addEventListener('click', logout);
    $('op-unit-link').addEventListener('click', function () { openUnit(view.data.unit.id); });
    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && current) {
        closeAct();
      } else if (ev.altKey && (ev.key === 's' || ev.key === 'S')) {
        ev.preventDefault();
        $('q').focus();
        $('q').select();
      }
    });
    document.addEventListener('uk-lang', function () {
      renderResults();
      if (status.staff) {
        $('who').textContent = UK.t('ctr.who', status.staff.name || status.staff.login, status.staff.login);
      }
      if (view) {
        if (view.kind === 'unit') { renderUnit(); } else { renderOperator(); }
      }
      if (current && !$('act-form').hidden) {
        openAct(current.name, current.extra);
      }
      if (agent !== undefined) {
        agentRefresh();
      }
    });
    load();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
