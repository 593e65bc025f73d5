/* tests/browser/test_counter.js: the counter console in chromium through the real agent (counter mode): the clerk logs in with the staff certificate, sees the demo unit at its two-certificate limit, registers a new unit, its agreement and authorisation and an operator (each with its form number), issues the operator a certificate enrolled on the blank spare UKey, the operator logs in with it in another browser, the clerk revokes it, the next login is refused with the revocation code; the English switch. */
'use strict';

const { scenario, newContext } = require('./lib');

scenario('counter console: register, issue on a UKey, log in, revoke', async function (t, demo, browser) {
  const clerk = demo.staff.counter1;
  const spare = demo.spare;
  const UNIT = 'BRW01';
  const UNIT_NAME = '浏览器测试有限公司';
  const OP = 'wulei';
  const OP_NAME = '吴磊';
  const ctx = await newContext(t, browser);
  const page = await ctx.newPage();
  const msg = page.locator('#act-msg');
  let serial = '';

  /* Opens the act behind the button named label (or opener), fills the
   * form number and the fields, submits with Enter in the form number and
   * waits for the outcome: a success with its event number. */
  async function act(label, form, fields, after, opener) {
    await (opener || page.locator('#unit-acts, #op-acts, .ctr-side').getByRole('button', { name: label, exact: true })).click();
    await page.locator('#act:not([hidden])').waitFor();
    t.eq(label, (await page.locator('#act-h').innerText()).split(' · ')[0], 'the act panel');
    await page.fill('#act-formno', form);
    for (const k of Object.keys(fields || {})) {
      const f = page.locator('#f-' + k);
      if (await f.evaluate(function (e) { return e.tagName; }) === 'SELECT') {
        await f.selectOption(fields[k]);
      } else {
        await f.fill(fields[k]);
      }
    }
    if (after) {
      await after();
    }
    await page.press('#act-formno', 'Enter');
    await msg.locator('p').first().waitFor({ timeout: 30000 });
    const text = await msg.innerText();
    t.eq('msg msg-ok', await msg.getAttribute('class'), label + ': ' + text);
    t.match(/审计事件编号：[0-9A-F]{32}/, text, label + ': the event number');
    return text;
  }

  async function search(q) {
    await page.keyboard.press('Alt+S');
    t.eq('q', await page.evaluate(function () { return document.activeElement.id; }), 'Alt+S: the search box');
    await page.keyboard.type(q);
    await page.keyboard.press('Enter');
  }

  async function operatorLogin(p) {
    await p.goto(demo.login);
    const radio = p.locator('input[name="cert"][value^="' + spare.token + ':"]');
    await radio.check();
    await p.fill('#pin', demo.pin);
    await p.click('#cert-submit');
  }

  await t.step('the clerk logs in with the staff certificate and lands on /counter', async function () {
    await page.goto(demo.login);
    await page.locator('input[name="cert"][value="' + clerk.cert + '"]').check();
    await page.fill('#pin', demo.pin);
    await Promise.all([page.waitForURL(demo.gateway + '/counter'), page.click('#cert-submit')]);
    await page.locator('#who').getByText('王柜员').waitFor();
    await page.locator('#agent-state').getByText('已连接（柜台模式）').waitFor();
    t.eq('q', await page.evaluate(function () { return document.activeElement.id; }), 'the search box has the focus');
  });

  await t.step('the demo unit shows its two-certificate limit reached, issuing is off', async function () {
    await search(demo.unit.id);
    await page.locator('#results .ctr-hit').first().waitFor();
    t.match(/有效证书 2 \/ 2/, await page.locator('#results').innerText(), 'the limit in the search hit');
    await page.locator('#results .ctr-hit', { hasText: demo.unit.name }).click();
    await page.locator('#unit-view:not([hidden])').waitFor();
    const box = page.locator('#limit-box');
    t.match(/有效证书 2 \/ 2：已达上限/, await box.innerText(), 'the limit box');
    t.eq('ctr-limit ctr-full', await box.getAttribute('class'), 'shown as full');
    await page.locator('#unit-ops').getByRole('row', { name: /maker/ }).getByRole('button', { name: '打开' }).click();
    await page.locator('#op-view:not([hidden])').waitFor();
    t.match(/已达上限/, await page.locator('#op-limit').innerText(), 'the operator view says it too');
    t.eq(true, await page.getByRole('button', { name: '发放证书（写入UKey）' }).isDisabled(), 'issue on a UKey: off');
    t.eq(true, await page.getByRole('button', { name: '发放证书（上传证书请求）' }).isDisabled(), 'issue from a CSR: off');
    await t.shot(page, 'counter-limit.png', false);
  });

  await t.step('an act without its form number is refused in the page with code and remedy', async function () {
    await page.getByRole('button', { name: '登记新单位' }).click();
    t.eq('act-formno', await page.evaluate(function () { return document.activeElement.id; }), 'the form number has the focus');
    await page.press('#act-formno', 'Enter');
    await msg.locator('.msg-title').waitFor();
    const text = await msg.innerText();
    t.match(/请填写申请表编号/, text, 'message');
    t.match(/UK-4604/, text, 'code');
    t.match(/处理办法/, text, 'remedy');
    t.eq('act-formno', await page.evaluate(function () { return document.activeElement.id; }), 'back to the form number');
    await page.keyboard.press('Escape');
    t.eq(true, await page.locator('#act').isHidden(), 'Esc closes the act');
  });

  await t.step('register a new unit (form F-B1)', async function () {
    await act('登记新单位', 'F-B1', { id: UNIT, name: UNIT_NAME });
    await page.locator('#unit-h').getByText(UNIT_NAME).waitFor();
    t.match(/未签订/, await page.locator('#unit-facts').innerText(), 'no agreement yet');
    t.match(/有效证书 0 \/ 2/, await page.locator('#limit-box').innerText(), 'no certificate yet');
  });

  await t.step('... its agreement (F-B2) and hall authorisation (F-B3)', async function () {
    await act('签订网上自主协议', 'F-B2');
    await page.locator('#unit-facts').getByText(/已签订（.*申请表 F-B2）/).waitFor();
    await act('办理网厅用户授权', 'F-B3');
    await page.locator('#unit-facts').getByText(/已办理（.*申请表 F-B3）/).waitFor();
  });

  await t.step('... and a new operator in it (F-B4)', async function () {
    await page.locator('#unit-view:not([hidden])').waitFor();
    await act('登记经办人', 'F-B4', { login: OP, name: OP_NAME }, async function () {
      await page.getByRole('checkbox', { name: '录入' }).check();
      await page.getByRole('checkbox', { name: '复核' }).check();
      await t.shot(page, 'counter-operator-form.png', false);
    });
    await page.locator('#op-h').getByText(OP_NAME + ' (' + OP + ')').waitFor();
    t.match(/录入、复核/, await page.locator('#op-facts').innerText(), 'the roles ticked');
    t.match(/没有|无/, await page.locator('#op-certs').innerText(), 'no certificate yet');
    t.eq(false, await page.getByRole('button', { name: '发放证书（写入UKey）' }).isDisabled(), 'issue on a UKey: on');
  });

  await t.step('issue a certificate on the blank UKey through the agent (F-B5)', async function () {
    const text = await act('发放证书（写入UKey）', 'F-B5', { pin: demo.pin }, async function () {
      await page.locator('#f-token option[value="' + spare.token + '"]').waitFor({ state: 'attached' });
      await page.selectOption('#f-token', spare.token);
      t.match(/spare-ukey/, await page.locator('#f-token option:checked').innerText(), 'the UKey by its label');
      await t.shot(page, 'counter-issue-form.png', false);
    });
    t.match(/证书已签发：序列号 [0-9A-F]+/, text, 'issued');
    serial = /序列号 ([0-9A-F]+)/.exec(text)[1];
    t.eq(5, await page.locator('#act-steps li.done').count(), 'every step done');
    t.eq('', await page.inputValue('#f-pin').catch(function () { return ''; }), 'the PIN is not kept');
    const row = page.locator('#op-certs tbody tr', { hasText: serial });
    t.match(/正常/, await row.innerText(), 'the certificate is listed, active');
    t.match(/有效证书 1 \/ 2/, await page.locator('#op-limit').innerText(), 'the limit box: 1 / 2');
    await t.shot(page, 'counter-issued.png');
  });

  await t.step('the unit view shows 1 / 2', async function () {
    await page.locator('#op-unit-link').click();
    await page.locator('#unit-view:not([hidden])').waitFor();
    const box = page.locator('#limit-box');
    t.eq('有效证书 1 / 2', await box.innerText(), 'the limit box');
    t.eq('ctr-limit', await box.getAttribute('class'), 'not full');
    t.match(new RegExp(serial), await page.locator('#unit-certs').innerText(), 'the certificate in the unit\'s list');
    await t.shot(page, 'counter-unit.png', false);
  });

  const opCtx = await newContext(t, browser);
  const op = await opCtx.newPage();

  await t.step('the new operator logs in with the certificate on that UKey (second browser)', async function () {
    await Promise.all([op.waitForURL(demo.gateway + '/self'), operatorLogin(op)]);
    await op.locator('#who').getByText(OP_NAME).waitFor();
  });

  await t.step('the English switch re-renders the console', async function () {
    await page.click('#lang-switch');
    await page.locator('.brand').getByText('Counter console').waitFor();
    t.eq('Active certificates 1 / 2', await page.locator('#limit-box').innerText(), 'the limit box');
    t.match(/Clerk: 王柜员/, await page.locator('#who').innerText(), 'the clerk');
    t.eq('en', await page.evaluate(function () { return document.documentElement.lang; }), 'html lang');
    t.match(/Active certificates 2 \/ 2/, await page.locator('#results').innerText(), 'the search hits too');
    t.eq('中文', await page.locator('#lang-switch').innerText(), 'the switch names the other language');
    await t.shot(page, 'counter-english.png', false);
    await page.click('#lang-switch');
    await page.locator('.brand').getByText('柜台业务').waitFor();
    t.eq('English', await page.locator('#lang-switch').innerText(), 'the switch back');
  });

  await t.step('the clerk revokes it (F-B6)', async function () {
    await page.locator('#unit-ops').getByRole('row', { name: new RegExp(OP) }).getByRole('button', { name: '打开' }).click();
    await page.locator('#op-h').getByText(OP_NAME).waitFor();
    const row = page.locator('#op-certs tbody tr', { hasText: serial });
    await act('吊销', 'F-B6', { reason: 'keyCompromise' }, async function () {
      t.match(new RegExp(serial), await page.locator('#act-h').innerText(), 'the serial in the act\'s title');
    }, row.getByRole('button', { name: '吊销' }));
    t.match(/已吊销 · UKey丢失或密钥泄露/, await row.innerText(), 'the certificate is revoked');
    t.match(/有效证书 0 \/ 2/, await page.locator('#op-limit').innerText(), 'the limit box: 0 / 2');
    await t.shot(page, 'counter-revoked.png');
  });

  await t.step('the operator\'s next login is refused with the revocation code', async function () {
    const err = op.locator('#cert-err');
    await operatorLogin(op);
    await err.locator('.msg-title').waitFor();
    const text = await err.innerText();
    t.match(/UK-3103/, text, 'code');
    t.match(/处理办法/, text, 'remedy');
    t.match(/事件编号\s*[0-9A-F]{32}/, text, 'event number');
    t.match(/\/login/, op.url(), 'still on the login page');
    await t.shot(op, 'counter-refused-login.png', false);
  });
});
