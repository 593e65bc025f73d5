/* tests/browser/test_self_service.js: the operator's self-service page in chromium after a UKey login: who am I and the scope, binding WeChat through the stand-in (the phone in a second browser context) and then scan login with it, unbinding, changing the password, logging out. */
'use strict';

const path = require('path');
const { scenario, newContext, readQr } = require('./lib');

scenario('operator self-service', async function (t, demo, browser) {
  const checker = demo.operators.checker;
  const NEW_PW = 'Chk' + Date.now().toString(36) + '7q';
  const page = await (await newContext(t, browser)).newPage();
  const who = page.locator('#who');

  async function phone(openid) {
    const ctx = await newContext(t, browser, { viewport: { width: 390, height: 844 }, isMobile: true });
    await ctx.addCookies([{ name: 'stub_openid', value: openid, url: demo.wechat }]);
    return ctx.newPage();
  }

  async function qrOf(p, sel, file) {
    await p.locator(sel).waitFor({ state: 'visible' });
    await p.waitForFunction(function (s) {
      const i = document.querySelector(s);
      return i.complete && i.naturalWidth > 0;
    }, sel);
    require('fs').mkdirSync(t.shotDir, { recursive: true });
    return readQr(p.locator(sel), path.join(t.shotDir, file));
  }

  await t.step('UKey login as the checker lands on the self-service page: who, unit, role, method, scope', async function () {
    await page.goto(demo.login);
    await page.locator('input[name="cert"][value="' + checker.cert + '"]').check();
    await page.fill('#pin', demo.pin);
    await Promise.all([page.waitForURL(demo.gateway + '/self'), page.click('#cert-submit')]);
    await who.getByText('李复核').waitFor();
    const text = await who.innerText();
    t.match(/DEMO01/, text, 'unit');
    t.match(/复核/, text, 'role');
    t.match(/UKey证书/, text, 'method');
    t.match(/全部业务/, text, 'scope');
    t.eq(true, await page.locator('#scope-note').isHidden(), 'no query-only note');
  });

  await t.step('bind WeChat: the QR code on the page, confirmed on the phone', async function () {
    await page.click('#wx-bind');
    const url = await qrOf(page, '#wx-qr', 'qr-bind.png');
    t.match(new RegExp('^' + demo.gateway + '/'), url, 'the QR code read off the page');
    const ph = await phone(checker.openid);
    await ph.goto(url);
    await ph.waitForURL(new RegExp('^' + demo.gateway + '/'));
    const confirm = ph.locator('button[name="do"][value="confirm"]');
    if (await confirm.count()) {
      t.match(/李复核/, await ph.locator('body').innerText(), 'the phone page names the operator');
      await confirm.click();
    }
    await page.locator('#wx-state').getByText('微信已绑定').waitFor();
    await t.shot(page, 'self-bound.png');
  });

  await t.step('... and that WeChat now logs the checker in by scan', async function () {
    const desk = await (await newContext(t, browser)).newPage();
    await desk.goto(demo.login + '#scan');
    const url = await qrOf(desk, '#qr-img', 'qr-login-checker.png');
    const ph = await phone(checker.openid);
    await ph.goto(url);
    await Promise.all([
      desk.waitForURL(demo.gateway + '/self'),
      ph.click('button[name="do"][value="confirm"]')
    ]);
    await desk.locator('#who').getByText('李复核').waitFor();
  });

  await t.step('unbind WeChat', async function () {
    await page.click('#wx-unbind');
    await page.locator('#wx-state').getByText('已解除微信绑定').waitFor();
  });

  await t.step('change the password: a mismatch is refused on the page, then it changes', async function () {
    await page.fill('#pw-old', checker.password);
    await page.fill('#pw-new', NEW_PW);
    await page.fill('#pw-new2', NEW_PW + 'x');
    await page.click('#pw-submit');
    await page.locator('#pw-msg').getByText('两次输入的新密码不一致').waitFor();
    await page.fill('#pw-new2', NEW_PW);
    await page.click('#pw-submit');
    await page.locator('#pw-msg').getByText('密码已修改').waitFor();
    await who.getByText('李复核').waitFor();
  });

  await t.step('log out: back to the login page, the session is gone', async function () {
    await Promise.all([page.waitForURL(new RegExp('^' + demo.gateway + '/login')), page.click('#logout')]);
    await page.goto(demo.gateway + '/self');
    await page.waitForURL(new RegExp('^' + demo.gateway + '/login\\?next='));
  });

  await t.step('the new password logs in', async function () {
    await page.goto(demo.login + '#password');
    await page.fill('#pw-login', checker.login);
    await page.fill('#pw-password', NEW_PW);
    await Promise.all([page.waitForURL(demo.gateway + '/self'), page.click('#pw-submit')]);
    await who.getByText('仅查询业务').waitFor();
  });
});
