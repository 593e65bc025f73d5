/* tests/browser/test_helpdesk.js: the helpdesk console in chromium: an operator freezes their password login (another browser) and reads the event number off the error box; the helpdesk member logs in with the staff certificate through the agent, searches that number, sees the operator, the highlighted event with its explanation and remedy, unfreezes with a ticket number, and the operator logs in; keyboard use and the English switch. */
'use strict';

const { scenario, newContext } = require('./lib');

scenario('helpdesk console: find a refused login by its event number, unfreeze', async function (t, demo, browser) {
  const hd = demo.staff.helpdesk1;
  const checker = demo.operators.checker;
  const opCtx = await newContext(t, browser);
  const op = await opCtx.newPage();
  const opErr = op.locator('#pw-err');
  let ev = '';

  async function pwAttempt(pw) {
    await op.fill('#pw-login', checker.login);
    await op.fill('#pw-password', pw);
    const ans = op.waitForResponse(function (r) { return r.url().endsWith('/auth/password'); });
    await op.click('#pw-submit');
    const res = await ans;
    return res.status();
  }

  await t.step('the operator has logged in on this PC before (the browser knows them)', async function () {
    await op.goto(demo.login + '#password');
    await op.locator('#panel-password').waitFor();
    await op.fill('#pw-login', checker.login);
    await op.fill('#pw-password', checker.password);
    await Promise.all([op.waitForURL(demo.gateway + '/self'), op.click('#pw-submit')]);
    await op.locator('#who').getByText('李复核').waitFor();
  });

  await t.step('... and types wrong passwords until the login is frozen', async function () {
    await op.goto(demo.login + '#password');
    await op.locator('#panel-password').waitFor();
    for (let i = 0; i < 6; i++) {
      t.eq(401, await pwAttempt('Wrong' + i + 'x'), 'wrong password ' + (i + 1));
    }
    await opErr.getByText('用户已暂时冻结').waitFor();
  });

  await t.step('... the right password is refused too: the event number from the error box', async function () {
    t.eq(423, await pwAttempt(checker.password), 'frozen');
    await opErr.locator('.msg-title').waitFor();
    const text = await opErr.innerText();
    t.match(/UK-4103/, text, 'code');
    const m = /事件编号\s*([0-9A-F]{32})/.exec(text);
    t.eq(true, !!m, 'an event number in ' + JSON.stringify(text));
    ev = m[1];
  });

  const ctx = await newContext(t, browser);
  const page = await ctx.newPage();

  await t.step('the helpdesk member logs in with the staff certificate and lands on /helpdesk', async function () {
    await page.goto(demo.login);
    await page.locator('input[name="cert"][value="' + hd.cert + '"]').check();
    await page.fill('#pin', demo.pin);
    await Promise.all([page.waitForURL(demo.gateway + '/helpdesk'), page.click('#cert-submit')]);
    await page.locator('#hd-who').getByText('赵客服').waitFor();
    t.eq('hd-q', await page.evaluate(function () { return document.activeElement.id; }), 'the search box has the focus');
  });

  await t.step('an empty search is refused in the page with code and remedy', async function () {
    await page.keyboard.press('Enter');
    const box = page.locator('#hd-msg');
    await box.locator('.msg-title').waitFor();
    const text = await box.innerText();
    t.match(/请输入查询内容/, text, 'message');
    t.match(/UK-1006/, text, 'code');
    t.match(/处理办法/, text, 'remedy');
  });

  await t.step('searching the event number finds the event, explained, and opens the operator', async function () {
    await page.keyboard.type(ev);
    await page.keyboard.press('Enter');
    const card = page.locator('#hd-results article.hd-event');
    await card.first().waitFor();
    t.eq(1, await card.count(), 'one event');
    const text = await card.innerText();
    t.match(new RegExp(ev), text, 'the event number');
    t.match(/UK-4103/, text, 'the code');
    t.match(/用户已暂时冻结/, text, 'the message the operator saw');
    t.match(/处理办法/, text, 'a remedy');
    t.match(/解除冻结/, text, 'the remedy names unfreezing');
    t.match(/李复核（checker，DEMO01）/, text, 'the operator behind it');
    await page.locator('#hd-op:not([hidden])').waitFor();
    t.eq('李复核（checker）', await page.locator('#hd-op-h').innerText(), 'the operator view');
    t.eq('hd-op-h', await page.evaluate(function () { return document.activeElement.id; }), 'the focus moves to it');
  });

  await t.step('... frozen, the problem explained, the event highlighted among the last events', async function () {
    t.match(/^已冻结，至 /, await page.locator('#hd-frozen').innerText(), 'frozen until');
    const pr = await page.locator('#hd-problems').innerText();
    t.match(/当前影响登录的问题/, pr, 'the problems box');
    t.match(/UK-4103/, pr, 'its code');
    t.match(/处理办法/, pr, 'its remedy');
    const row = page.locator('#hd-events tr.hd-mark');
    t.eq(1, await row.count(), 'one highlighted row');
    t.eq(ev, await row.getAttribute('data-event'), 'the searched event');
    const rt = await row.innerText();
    t.match(/UK-4103/, rt, 'its code');
    t.match(/解除冻结/, rt, 'its remedy');
    t.eq(true, await row.evaluate(function (r) {
      const box = document.getElementById('hd-events').getBoundingClientRect();
      const b = r.getBoundingClientRect();
      return b.top >= box.top && b.top < box.bottom;
    }), 'shown in the event list\'s scroll box');
    t.eq(true, (await page.locator('#hd-events tr.hd-row-bad').count()) >= 7, 'the six wrong passwords and the refusal are listed');
    await t.shot(page, 'helpdesk-event.png', false);
  });

  await t.step('unfreeze without a ticket number: refused in the page with code and remedy', async function () {
    await page.locator('#hd-unfreeze:not([hidden])').waitFor();
    await page.focus('#hd-form');
    await page.keyboard.press('Enter');
    const box = page.locator('#hd-uf-msg');
    await box.locator('.msg-title').waitFor();
    const text = await box.innerText();
    t.match(/请填写工单号或申请表编号/, text, 'message');
    t.match(/UK-4604/, text, 'code');
    t.match(/处理办法/, text, 'remedy');
    t.eq('hd-form', await page.evaluate(function () { return document.activeElement.id; }), 'the focus on the field');
  });

  await t.step('unfreeze with a ticket number', async function () {
    await page.keyboard.type('T-2024-0815');
    await page.keyboard.press('Enter');
    await page.locator('#hd-op-msg').getByText('已解除冻结').waitFor();
    t.match(/审计事件编号：[0-9A-F]{32}/, await page.locator('#hd-op-msg').innerText(), 'the event number');
    t.eq('未冻结', await page.locator('#hd-frozen').innerText(), 'not frozen');
    t.match(/未发现影响登录的问题/, await page.locator('#hd-problems').innerText(), 'no problem left');
    t.eq(true, await page.locator('#hd-unfreeze').isHidden(), 'the unfreeze form is gone');
    await t.shot(page, 'helpdesk-unfrozen.png');
  });

  await t.step('the operator logs in with the password now', async function () {
    await op.fill('#pw-login', checker.login);
    await op.fill('#pw-password', checker.password);
    await Promise.all([op.waitForURL(demo.gateway + '/self'), op.click('#pw-submit')]);
    await op.locator('#who').getByText('李复核').waitFor();
  });

  await t.step('the English switch re-renders the console, the explanation too', async function () {
    await page.click('#lang-switch');
    await page.locator('.brand').getByText('Helpdesk console').waitFor();
    t.eq('中文', await page.locator('#lang-switch').innerText(), 'the switch names the other language');
    t.eq('Not frozen', await page.locator('#hd-frozen').innerText(), 'the operator view');
    t.match(/^Unfrozen/, await page.locator('#hd-op-msg').innerText(), 'the outcome');
    t.match(/frozen/i, await page.locator('#hd-results article.hd-event').innerText(), 'the event card');
    const rt = await page.locator('#hd-events tr.hd-mark').innerText();
    t.match(/UK-4103/, rt, 'the highlighted row');
    t.eq(false, /[\u4e00-\u9fff]{4}/.test(rt.replace(/李复核/g, '')), 'no Chinese left in it: ' + rt);
    await t.shot(page, 'helpdesk-english.png', false);
    await page.click('#lang-switch');
    await page.locator('.brand').getByText('服务热线工作台').waitFor();
  });
});
