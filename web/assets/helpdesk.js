/* web/assets/helpdesk.js: the helpdesk console: one search box (login, name, phone, resident ID, unit, event number, error code), the operator view with the last 50 security events explained, unfreeze with a ticket number, log out. */
'use strict';

(function () {
  UK.strings({
    'hd.title': ['服务热线工作台', 'Helpdesk console'],
    'hd.skip': ['跳到查询框', 'Skip to the search box'],
    'hd.logout': ['退出登录', 'Log out'],
    'hd.search_h': ['查询', 'Search'],
    'hd.q_label': ['登录名、姓名、手机号、身份证号、单位或事件编号', 'Login name, name, phone, resident ID, unit or event number'],
    'hd.q_ph': ['例如 E8F3… 或 张三 或 UK-4103', 'e.g. E8F3… or Zhang or UK-4103'],
    'hd.q_note': ['查询和查看经办人信息都会记入审计日志。', 'Every search and every view of an operator is recorded in the audit trail.'],
    'hd.go': ['查询', 'Search'],
    'hd.q_empty': ['请输入查询内容', 'Enter something to search for'],
    'hd.none': ['没有找到匹配的记录', 'Nothing matches'],
    'hd.more': ['结果较多，只显示前 {0} 条，请输入更准确的内容', 'Only the first {0} are shown; be more specific'],
    'hd.code_h': ['错误代码说明', 'Error code'],
    'hd.events_found': ['事件', 'Events'],
    'hd.ops_found': ['经办人', 'Operators'],
    'hd.units_found': ['单位', 'Units'],
    'hd.open': ['查看', 'Open'],
    'hd.list_ops': ['列出经办人', 'List operators'],
    'hd.no_op': ['未找到对应的经办人', 'No operator found for it'],
    'hd.op_facts': ['经办人', 'Operator'],
    'hd.unit_facts': ['单位', 'Unit'],
    'hd.login': ['登录名', 'Login name'],
    'hd.name': ['姓名', 'Name'],
    'hd.unit': ['单位', 'Unit'],
    'hd.rid': ['身份证号', 'Resident ID'],
    'hd.phone': ['手机号', 'Phone'],
    'hd.roles': ['岗位', 'Roles'],
    'hd.status': ['状态', 'Status'],
    'hd.password': ['登录密码', 'Password'],
    'hd.pw_yes': ['已设置', 'Set'],
    'hd.pw_temp': ['临时密码（须修改）', 'Temporary (must be changed)'],
    'hd.pw_no': ['未设置（仅UKey登录）', 'None (UKey login only)'],
    'hd.fails': ['今日密码错误次数', 'Wrong passwords today'],
    'hd.fails_v': ['{0} 次（还可尝试 {1} 次）', '{0} (tries left: {1})'],
    'hd.frozen': ['冻结', 'Frozen'],
    'hd.frozen_until': ['已冻结，至 {0}', 'Frozen until {0}'],
    'hd.not_frozen': ['未冻结', 'Not frozen'],
    'hd.wechat': ['微信', 'WeChat'],
    'hd.bound': ['已绑定', 'Bound'],
    'hd.unbound': ['未绑定', 'Not bound'],
    'hd.agreement': ['网上业务协议', 'Online service agreement'],
    'hd.authorised': ['网厅用户授权', 'Online hall authorisation'],
    'hd.done_at': ['已办理（{0}，申请表 {1}）', 'Done ({0}, form {1})'],
    'hd.not_done': ['未办理', 'Not done'],
    'hd.active_certs': ['有效证书数', 'Active certificates'],
    'hd.uscc': ['统一社会信用代码', 'USCC'],
    'hd.no_unit': ['单位不存在', 'The unit does not exist'],
    'st.active': ['正常', 'Active'],
    'st.left': ['已离职', 'Left'],
    'st.disabled': ['已停用', 'Disabled'],
    'st.closed': ['已注销', 'Closed'],
    'role.maker': ['录入', 'Maker'],
    'role.checker': ['复核', 'Checker'],
    'role.admin': ['专管员', 'Administrator'],
    'role.none': ['无', 'None'],
    'hd.problems': ['当前影响登录的问题', 'What stops this operator now'],
    'hd.no_problems': ['未发现影响登录的问题', 'Nothing stops this operator now'],
    'hd.uf_h': ['解除冻结', 'Unfreeze'],
    'hd.uf_note': ['核实来电人身份后，填写工单号或申请表编号再解除冻结。解除后经办人可立即用密码登录。此操作记入审计日志。', 'Check the caller\'s identity, enter the ticket or form number, then unfreeze. The operator can log in with the password at once. This is audited.'],
    'hd.uf_form': ['工单号/申请表编号', 'Ticket or form number'],
    'hd.uf_go': ['解除冻结', 'Unfreeze'],
    'hd.uf_need': ['请填写工单号或申请表编号', 'Enter the ticket or form number'],
    'hd.uf_need_rm': ['填写本次来电的工单号（或申请表编号）后再解除冻结，以便审计', 'Enter this call\'s ticket number (or the form number), then unfreeze: it goes into the audit trail'],
    'hd.q_empty_rm': ['输入登录名、姓名、手机号、身份证号、单位账号、事件编号或错误代码后再查询', 'Type a login name, name, phone, resident ID, unit account, event number or error code, then search'],
    'hd.uf_ok': ['已解除冻结。经办人现在可以用密码登录。审计事件编号：{0}', 'Unfrozen. The operator can log in with the password now. Audit event number: {0}'],
    'hd.certs_h': ['证书', 'Certificates'],
    'hd.no_certs': ['没有证书', 'No certificates'],
    'hd.c_serial': ['序列号', 'Serial'],
    'hd.c_subject': ['主题', 'Subject'],
    'hd.c_source': ['来源', 'Source'],
    'hd.c_status': ['状态', 'Status'],
    'hd.c_until': ['有效期至', 'Valid until'],
    'src.ca': ['本中心CA', 'Centre CA'],
    'src.external': ['外部CA', 'External CA'],
    'cs.active': ['有效', 'Active'],
    'cs.revoked': ['已吊销', 'Revoked'],
    'cs.bound': ['已绑定', 'Bound'],
    'cs.expired': ['已过期', 'Expired'],
    'hd.events_h': ['最近50条安全事件', 'The last 50 security events'],
    'hd.no_events': ['没有安全事件记录', 'No security events'],
    'hd.more_events': ['更早的事件未显示', 'Older events are not shown'],
    'hd.e_time': ['时间', 'Time'],
    'hd.e_what': ['发生了什么', 'What happened'],
    'hd.e_code': ['代码', 'Code'],
    'hd.e_ip': ['IP地址', 'IP address'],
    'hd.e_remedy': ['处理办法', 'What to do'],
    'hd.e_number': ['事件编号', 'Event number'],
    'hd.e_msg': ['用户看到的提示', 'Message the user saw'],
    'hd.e_seed': ['原系统提示', 'Former message'],
    'hd.e_op': ['经办人', 'Operator']
  });

  const $ = function (id) { return document.getElementById(id); };
  let session = null;
  let results = null;
  let view = null;
  let mark = '';
  let ok = null; /* [key, args...] of the success shown above the operator, for a language switch */

  function tx(o) {
    if (!o) {
      return '';
    }
    return UK.lang() === 'en' ? o.en : o.zh;
  }

  function fact(dl, k, v) {
    dl.appendChild(UK.el('dt', null, UK.t(k)));
    const dd = UK.el('dd', null, v === undefined || v === null || v === '' ? '-' : String(v));
    dl.appendChild(dd);
    return dd;
  }

  function statusText(s) {
    const k = 'st.' + s;
    return UK.t(k) === k ? s : UK.t(k);
  }

  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent('/helpdesk'));
  }

  /* The answer of a console call; 401 goes to the login page. */
  async function call(method, url, body) {
    const h = session && session.csrf ? { 'X-CSRF-Token': session.csrf } : {};
    const ans = await UK.request(method, url, body, h);
    if (ans.status === 401) {
      toLogin();
    }
    return ans;
  }

  /* --- search --- */

  function eventCard(e, withOp) {
    const box = UK.el('article', 'hd-event' + (e.ok ? '' : ' hd-event-bad'));
    const head = UK.el('p', 'hd-event-head');
    head.appendChild(UK.el('strong', null, tx(e.kindText) + '：' + tx(e.what)));
    box.appendChild(head);
    const dl = UK.el('dl', 'msg-facts');
    fact(dl, 'hd.e_number', e.event).classList.add('hd-mono');
    fact(dl, 'hd.e_time', UK.when(e.at));
    if (!e.ok) {
      fact(dl, 'hd.e_code', e.result);
      if (e.message) {
        fact(dl, 'hd.e_msg', tx(e.message));
      }
      if (e.seed) {
        fact(dl, 'hd.e_seed', e.seed);
      }
    }
    fact(dl, 'hd.e_ip', e.ip);
    if (e.remedy) {
      fact(dl, 'hd.e_remedy', tx(e.remedy));
    }
    box.appendChild(dl);
    if (withOp) {
      const p = UK.el('p', 'hd-event-op');
      if (e.operator) {
        p.appendChild(UK.el('span', null, UK.t('hd.e_op') + '：' + e.operator.name + '（' + e.operator.login + '，' + e.operator.unit + '）'));
        const b = UK.el('button', 'secondary hd-small', UK.t('hd.open'));
        b.type = 'button';
        b.addEventListener('click', function () { openOperator(e.operator.id, e.event); });
        p.appendChild(b);
      } else {
        p.appendChild(UK.el('span', 'muted', UK.t('hd.no_op')));
      }
      box.appendChild(p);
    }
    return box;
  }

  function moreNote(parent, more, n) {
    if (more) {
      parent.appendChild(UK.el('p', 'muted', UK.t('hd.more', n)));
    }
  }

  function renderResults() {
    const root = $('hd-results');
    root.textContent = '';
    if (!results) {
      return;
    }
    const r = results;
    if (r.code) {
      const box = UK.el('article', 'hd-event hd-event-bad');
      box.appendChild(UK.el('h2', 'hd-h', UK.t('hd.code_h') + ' ' + r.code.code));
      const dl = UK.el('dl', 'msg-facts');
      fact(dl, 'hd.e_msg', tx(r.code.message));
      fact(dl, 'hd.e_what', tx(r.code.what));
      if (r.code.seed) {
        fact(dl, 'hd.e_seed', r.code.seed);
      }
      fact(dl, 'hd.e_remedy', tx(r.code.remedy));
      box.appendChild(dl);
      root.appendChild(box);
    }
    if (r.events.length) {
      root.appendChild(UK.el('h2', 'hd-h', UK.t('hd.events_found')));
      r.events.forEach(function (e) { root.appendChild(eventCard(e, true)); });
      moreNote(root, r.moreEvents, r.events.length);
    }
    if (r.operators.length) {
      root.appendChild(UK.el('h2', 'hd-h', UK.t('hd.ops_found')));
      const ul = UK.el('ul', 'hd-list');
      r.operators.forEach(function (o) {
        const li = UK.el('li');
        const b = UK.el('button', 'hd-row');
        b.type = 'button';
        b.appendChild(UK.el('span', 'hd-row-main', o.name + '  ' + o.login));
        b.appendChild(UK.el('span', 'hd-row-sub', o.unit + ' · ' + (o.residentId || '-') + ' · ' + (o.phone || '-') + ' · ' + statusText(o.status) + (o.frozen ? ' · ' + UK.t('hd.frozen') : '')));
        b.addEventListener('click', function () { openOperator(o.id, ''); });
        li.appendChild(b);
        ul.appendChild(li);
      });
      root.appendChild(ul);
      moreNote(root, r.moreOperators, r.operators.length);
    }
    if (r.units.length) {
      root.appendChild(UK.el('h2', 'hd-h', UK.t('hd.units_found')));
      const ul = UK.el('ul', 'hd-list');
      r.units.forEach(function (u) {
        const li = UK.el('li');
        const b = UK.el('button', 'hd-row');
        b.type = 'button';
        b.appendChild(UK.el('span', 'hd-row-main', u.name + '  ' + u.id));
        b.appendChild(UK.el('span', 'hd-row-sub', UK.t('hd.agreement') + '：' + (u.agreement ? '✓' : UK.t('hd.not_done')) + ' · ' + UK.t('hd.authorised') + '：' + (u.authorised ? '✓' : UK.t('hd.not_done')) + ' · ' + UK.t('hd.list_ops')));
        b.addEventListener('click', function () { $('hd-q').value = u.id; search(); });
        li.appendChild(b);
        ul.appendChild(li);
      });
      root.appendChild(ul);
      moreNote(root, r.moreUnits, r.units.length);
    }
    if (!r.code && !r.events.length && !r.operators.length && !r.units.length) {
      root.appendChild(UK.el('p', 'muted', UK.t('hd.none')));
    }
  }

  async function search(ev) {
    if (ev) {
      ev.preventDefault();
    }
    const q = $('hd-q').value.trim();
    const box = $('hd-msg');
    UK.hide(box);
    if (!q) {
      UK.showError(box, { code: 'UK-1006', message: UK.t('hd.q_empty'), remedy: UK.t('hd.q_empty_rm') });
      $('hd-q').focus();
      return;
    }
    $('hd-go').disabled = true;
    try {
      const ans = await call('GET', '/helpdesk/api/search?q=' + encodeURIComponent(q));
      if (ans.status !== 200 || !ans.json) {
        results = null;
        renderResults();
        UK.showError(box, UK.errorOf(ans));
        return;
      }
      results = ans.json;
      renderResults();
      /* an event number that names one operator: straight to them */
      if (results.events.length === 1 && results.events[0].operator && !results.operators.length) {
        openOperator(results.events[0].operator.id, results.events[0].event);
      }
    } catch (e) {
      UK.showError(box, UK.errorOf(null));
    } finally {
      $('hd-go').disabled = false;
    }
  }

  /* --- the operator view --- */

  function doneText(at, form) {
    return at ? UK.t('hd.done_at', UK.when(at), form || '-') : UK.t('hd.not_done');
  }

  function renderView() {
    const pane = $('hd-op');
    if (!view) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const o = view.operator;
    const u = view.unit;
    $('hd-op-h').textContent = o.name + '（' + o.login + '）';

    const pr = $('hd-problems');
    pr.textContent = '';
    if (view.problems.length) {
      const box = UK.el('div', 'msg msg-error');
      box.appendChild(UK.el('p', 'msg-title', UK.t('hd.problems')));
      view.problems.forEach(function (p) {
        const dl = UK.el('dl', 'msg-facts');
        fact(dl, 'hd.e_code', p.code);
        fact(dl, 'hd.e_what', tx(p.what));
        fact(dl, 'hd.e_remedy', tx(p.remedy));
        box.appendChild(dl);
      });
      pr.appendChild(box);
    } else {
      pr.appendChild(UK.el('p', 'msg msg-ok', UK.t('hd.no_problems')));
    }

    const dl = $('hd-op-facts');
    dl.textContent = '';
    fact(dl, 'hd.login', o.login);
    fact(dl, 'hd.name', o.name);
    fact(dl, 'hd.rid', o.residentId);
    fact(dl, 'hd.phone', o.phone);
    fact(dl, 'hd.roles', o.roles.length ? o.roles.map(function (r) { return UK.t('role.' + r); }).join('、') : UK.t('role.none'));
    fact(dl, 'hd.status', statusText(o.status));
    fact(dl, 'hd.password', UK.t(!o.hasPassword ? 'hd.pw_no' : o.mustChangePassword ? 'hd.pw_temp' : 'hd.pw_yes'));
    fact(dl, 'hd.fails', UK.t('hd.fails_v', o.failuresToday, o.triesLeft));
    const fz = fact(dl, 'hd.frozen', o.frozen ? UK.t('hd.frozen_until', UK.when(o.frozenUntil)) : UK.t('hd.not_frozen'));
    fz.id = 'hd-frozen';
    if (o.frozen) {
      fz.className = 'hd-bad';
    }
    fact(dl, 'hd.wechat', UK.t(o.wechatBound ? 'hd.bound' : 'hd.unbound'));

    const ud = $('hd-unit-facts');
    ud.textContent = '';
    if (u) {
      fact(ud, 'hd.unit', u.name + '（' + u.id + '）');
      fact(ud, 'hd.status', statusText(u.status));
      fact(ud, 'hd.uscc', u.uscc);
      fact(ud, 'hd.agreement', doneText(u.agreementAt, u.agreementForm)).className = u.agreement ? '' : 'hd-bad';
      fact(ud, 'hd.authorised', doneText(u.authorisedAt, u.authorisedForm)).className = u.authorised ? '' : 'hd-bad';
      fact(ud, 'hd.active_certs', u.activeCerts);
    } else {
      fact(ud, 'hd.unit', UK.t('hd.no_unit'));
    }

    $('hd-unfreeze').hidden = !(o.frozen || o.failuresToday > 0) || o.status !== 'active';

    const cd = $('hd-certs');
    cd.textContent = '';
    if (!view.certificates.length) {
      cd.appendChild(UK.el('p', 'muted', UK.t('hd.no_certs')));
    } else {
      const tbl = UK.el('table', 'hd-table');
      const hr = UK.el('tr');
      ['hd.c_serial', 'hd.c_subject', 'hd.c_source', 'hd.c_status', 'hd.c_until'].forEach(function (k) {
        const th = UK.el('th', null, UK.t(k));
        th.scope = 'col';
        hr.appendChild(th);
      });
      tbl.appendChild(UK.el('thead')).appendChild(hr);
      const tb = UK.el('tbody');
      view.certificates.forEach(function (c) {
        const tr = UK.el('tr');
        tr.appendChild(UK.el('td', 'hd-mono', c.serial || '-'));
        tr.appendChild(UK.el('td', null, c.subject));
        tr.appendChild(UK.el('td', null, UK.t('src.' + c.source)));
        const st = UK.t('cs.' + c.status) + (c.expired ? ' · ' + UK.t('cs.expired') : '');
        tr.appendChild(UK.el('td', c.status === 'revoked' || c.expired ? 'hd-bad' : null, st));
        tr.appendChild(UK.el('td', null, c.notAfter ? UK.day(c.notAfter) : '-'));
        tb.appendChild(tr);
      });
      tbl.appendChild(tb);
      cd.appendChild(tbl);
    }

    const ed = $('hd-events');
    ed.textContent = '';
    if (!view.events.length) {
      ed.appendChild(UK.el('p', 'muted', UK.t('hd.no_events')));
    } else {
      const tbl = UK.el('table', 'hd-table hd-events');
      const hr = UK.el('tr');
      ['hd.e_time', 'hd.e_what', 'hd.e_code', 'hd.e_ip', 'hd.e_remedy'].forEach(function (k) {
        const th = UK.el('th', null, UK.t(k));
        th.scope = 'col';
        hr.appendChild(th);
      });
      tbl.appendChild(UK.el('thead')).appendChild(hr);
      const tb = UK.el('tbody');
      view.events.forEach(function (e) {
        const tr = UK.el('tr', (e.ok ? '' : 'hd-row-bad') + (e.event === mark ? ' hd-mark' : ''));
        tr.dataset.event = e.event;
        tr.appendChild(UK.el('td', 'hd-nowrap', UK.when(e.at)));
        const what = UK.el('td');
        what.appendChild(UK.el('strong', null, tx(e.kindText)));
        what.appendChild(UK.el('span', null, '：' + tx(e.what)));
        what.appendChild(UK.el('div', 'hd-row-sub hd-mono', UK.t('hd.e_number') + ' ' + e.event));
        tr.appendChild(what);
        tr.appendChild(UK.el('td', 'hd-nowrap', e.ok ? '-' : e.result));
        tr.appendChild(UK.el('td', 'hd-nowrap', e.ip || '-'));
        tr.appendChild(UK.el('td', null, e.remedy ? tx(e.remedy) : '-'));
        tb.appendChild(tr);
      });
      tbl.appendChild(tb);
      ed.appendChild(tbl);
      if (view.moreEvents) {
        ed.appendChild(UK.el('p', 'muted', UK.t('hd.more_events')));
      }
    }
  }

  async function openOperator(id, eventNo) {
    const box = $('hd-op-msg');
    UK.hide(box);
    ok = null;
    try {
      const ans = await call('GET', '/helpdesk/api/operator?id=' + encodeURIComponent(id));
      if (ans.status !== 200 || !ans.json) {
        view = null;
        renderView();
        UK.showError($('hd-msg'), UK.errorOf(ans));
        return;
      }
      view = ans.json;
      mark = eventNo || '';
      UK.hide($('hd-uf-msg'));
      $('hd-form').value = '';
      renderView();
      const row = mark ? document.querySelector('#hd-events tr.hd-mark') : null;
      if (row) {
        /* the searched event at the top of the event list's own scroll
         * box (below its sticky header); the window stays at the
         * operator's heading */
        const ed = $('hd-events');
        const head = ed.querySelector('thead');
        ed.scrollTop += row.getBoundingClientRect().top - ed.getBoundingClientRect().top - (head ? head.offsetHeight : 0);
      }
      $('hd-op-h').tabIndex = -1;
      $('hd-op-h').focus();
    } catch (e) {
      UK.showError($('hd-msg'), UK.errorOf(null));
    }
  }

  async function unfreeze(ev) {
    ev.preventDefault();
    const box = $('hd-uf-msg');
    UK.hide(box);
    const form = $('hd-form').value.trim();
    if (!form) {
      UK.showError(box, { code: 'UK-4604', message: UK.t('hd.uf_need'), remedy: UK.t('hd.uf_need_rm') });
      $('hd-form').focus();
      return;
    }
    if (!view) {
      return;
    }
    $('hd-uf-go').disabled = true;
    try {
      const id = view.operator.id;
      const ans = await call('POST', '/helpdesk/api/unfreeze', { id: id, form: form });
      if (ans.status !== 200) {
        UK.showError(box, UK.errorOf(ans));
        return;
      }
      await openOperator(id, mark);
      ok = ['hd.uf_ok', (ans.json && ans.json.event) || '-'];
      UK.showInfo($('hd-op-msg'), UK.t.apply(null, ok), 'ok');
    } catch (e) {
      UK.showError(box, UK.errorOf(null));
    } finally {
      $('hd-uf-go').disabled = false;
    }
  }

  async function logout() {
    try {
      await UK.request('POST', '/auth/logout', {}, { 'X-CSRF-Token': session ? session.csrf : '' });
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
      UK.showError($('hd-msg'), UK.errorOf(null));
      return;
    }
    if (ans.status === 401) {
      toLogin();
      return;
    }
    if (ans.status !== 200 || !ans.json) {
      UK.showError($('hd-msg'), UK.errorOf(ans));
      return;
    }
    session = ans.json;
    $('hd-who').textContent = (session.name || session.login) + '（' + session.login + '）';
    if (session.kind !== 'staff') {
      UK.showError($('hd-msg'), {
        code: 'UK-5008',
        message: UK.lang() === 'en' ? 'Staff only' : '仅限中心或银行工作人员',
        remedy: UK.lang() === 'en' ? 'Log in with a staff certificate' : '使用工作人员证书登录'
      });
      $('hd-go').disabled = true;
      return;
    }
    const q = UK.param('q');
    if (q) {
      $('hd-q').value = q;
      search();
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    UK.init();
    $('hd-search').addEventListener('submit', search);
    $('hd-unfreeze').addEventListener('submit', unfreeze);
    $('logout').addEventListener('click', logout);
    document.addEventListener('uk-lang', function () {
      renderResults();
      renderView();
      if (ok && !$('hd-op-msg').hidden) {
        UK.showInfo($('hd-op-msg'), UK.t.apply(null, ok), 'ok');
      }
    });
    document.addEventListener('keydown', function (e) {
      /* "/" puts the cursor in the search box, as in many consoles */
      if (e.key === '/' && document.activeElement && !/^(INPUT|TEXTAREA)$/.test(document.activeElement.tagName)) {
        e.preventDefault();
        $('hd-q').focus();
      }
    });
    $('hd-q').focus();
    load();
  });
})();
