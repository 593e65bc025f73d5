/* tests/browser/test_password_login.js: password login in chromium: by resident ID into a query page of the hall, a full-scope page refused with the scope message, wrong passwords with the tries left and the event number, frozen after six (even for the right password). */
'use strict';

const { scenario, newContext } = require('./lib');

scenario('password login', async function (t, demo, browser) {
  const maker = demo.operators.maker;
  const checker = demo.operators.checker;
  const q = demo.login.indexOf('?') >= 0 ? '&' : '?';

  await t.step('login by resident ID number lands on a query page of the hall', async function () {
    const ctx = await newContext(t, browser);
    const page = await ctx.newPage();
    await page.goto(demo.login + q + 'next=' + encodeURIComponent('/hall/query/contributions') + '#password');
    await page.locator('#panel-password').waitFor();
    t.eq(true, await page.locator('#pw-login').evaluate(function (e) { return e === document.activeElement; }),
      'the login field has the focus');
    await page.fill('#pw-login', maker.residentId);
    await page.fill('#pw-password', maker.password);
    await Promise.all([
      page.waitForURL(demo.gateway + '/hall/query/contributions'),
      page.press('#pw-password', 'Enter')
    ]);
    const body = await page.locator('body').innerText();
    t.match(/张录入/, body, 'the hall names the operator');
    t.match(/query/, body, 'scope query');
    t.page = page;
  });

  await t.step('... a full-scope page refused with the scope message and its code', async function () {
    t.expectStatus(/\/hall\/declare$/, 403);
    const res = await t.page.goto(demo.gateway + '/hall/declare');
    t.eq(403, res.status(), 'status');
    const body = await t.page.locator('body').innerText();
    t.match(/账号密码登录只能办理查询业务/, body, 'the scope message');
    t.match(/UK-5005/, body, 'the code');
    t.match(/[0-9A-F]{32}/, body, 'an event number');
  });

  await t.step('... the self-service page says what the password session allows', async function () {
    await t.page.goto(demo.gateway + '/self');
    await t.page.locator('#who').getByText('仅查询业务').waitFor();
    await t.page.locator('#scope-note').getByText('只能办理查询业务').waitFor();
  });

  const ctx = await newContext(t, browser);
  const page = await ctx.newPage();
  const box = page.locator('#pw-err');
  async function attempt(pw) {
    await page.fill('#pw-login', checker.login);
    await page.fill('#pw-password', pw);
    const ans = page.waitForResponse(function (r) { return r.url().endsWith('/auth/password'); });
    await page.click('#pw-submit');
    await ans;
    await box.locator('.msg-title').waitFor();
    return box.innerText();
  }

  await t.step('a wrong password from a stranger: one message for unknown user and wrong password, code, remedy, event number, no tries', async function () {
    await page.goto(demo.login + '#password');
    const text = await attempt('Wrong123');
    t.match(/用户名或密码错误/, text, 'message');
    t.match(/UK-4101/, text, 'code');
    t.match(/处理办法/, text, 'remedy');
    t.match(/事件编号\s*[0-9A-F]{32}/, text, 'event number');
    t.eq(false, /还可尝试/.test(text), 'no tries left for a stranger');
    t.eq('', await page.inputValue('#pw-password'), 'the password field is emptied');
    await page.fill('#pw-login', 'nobody-here');
    await page.fill('#pw-password', 'Wrong123');
    await page.click('#pw-submit');
    await box.getByText('用户名或密码错误').waitFor();
  });

  await t.step('the checker logs in (this browser now knows the operator)', async function () {
    await page.fill('#pw-login', checker.login);
    await page.fill('#pw-password', checker.password);
    await Promise.all([page.waitForURL(demo.gateway + '/self'), page.click('#pw-submit')]);
    await page.locator('#who').getByText('李复核').waitFor();
    await page.goto(demo.login + '#password');
  });

  await t.step('... then wrong passwords show the tries left', async function () {
    for (let left = 5; left >= 1; left--) {
      const text = await attempt('Wrong123');
      t.match(new RegExp('还可尝试 ' + left + ' 次'), text, 'tries left after ' + (6 - left) + ' wrong');
    }
  });

  await t.step('the sixth wrong password freezes the account for the day', async function () {
    const text = await attempt('Wrong123');
    t.match(/用户已暂时冻结/, text, 'message');
    t.match(/UK-410[13]/, text, 'code');
    t.match(/冻结至/, text, 'until when');
    t.match(/短信重置密码|忘记密码/, text, 'the way out');
    await t.shot(page, 'password-frozen.png');
  });

  await t.step('... and the right password is refused too while frozen', async function () {
    const text = await attempt(checker.password);
    t.match(/用户已暂时冻结/, text, 'message');
    t.match(/UK-4103/, text, 'code');
    t.match(/\/login(\?[^#]*)?#password$/, page.url(), 'still on the login page');
  });

  await t.step('"forgot password" leads to the SMS reset page', async function () {
    await Promise.all([page.waitForURL(demo.gateway + '/login/reset'), page.click('#pw-forgot')]);
    await page.locator('#r-login').waitFor();
  });
});
