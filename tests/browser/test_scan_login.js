/* tests/browser/test_scan_login.js: scan login in chromium: the QR code is read off the login page (zbarimg), a second browser context plays the phone through the stand-in WeChat (OAuth2 round trip, confirm page), and the first browser follows waiting -> scanned -> confirmed and lands logged in; a cancelled scan covers the code with its refresh button. */
'use strict';

const path = require('path');
const { scenario, newContext, readQr } = require('./lib');

const PHONE = {
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
  userAgent: 'Mozilla/5.0 (Linux; Android 13; Phone) AppleWebKit/537.36 (KHTML, like Gecko) ' +
    'Chrome/120.0 Mobile Safari/537.36 MicroMessenger/8.0.47'
};

scenario('scan login with the stand-in WeChat', async function (t, demo, browser) {
  const maker = demo.operators.maker;
  const desk = await (await newContext(t, browser)).newPage();
  const state = desk.locator('#qr-state');

  /* The phone: a browser of its own, logged in to (stand-in) WeChat as
   * openid. */
  async function phone(openid) {
    const ctx = await newContext(t, browser, PHONE);
    await ctx.addCookies([{ name: 'stub_openid', value: openid, url: demo.wechat }]);
    return ctx.newPage();
  }

  async function showQr() {
    await desk.locator('#qr-img').waitFor({ state: 'visible' });
    await desk.waitForFunction(function () {
      const i = document.getElementById('qr-img');
      return i.complete && i.naturalWidth > 0;
    });
    return readQr(desk.locator('#qr-img'), path.join(t.shotDir, 'qr-login.png'));
  }

  let url = '';
  await t.step('the scan tab shows a QR code, the waiting state and the countdown', async function () {
    require('fs').mkdirSync(t.shotDir, { recursive: true });
    await desk.goto(demo.login + '#scan');
    url = await showQr();
    t.match(new RegExp('^' + demo.gateway + '/qr/s/[0-9a-f]{32}$'), url, 'the QR code read off the page');
    await state.getByText('请使用微信扫一扫').waitFor();
    t.match(/二维码 1[0-2][0-9] 秒后过期/, await desk.locator('#qr-countdown').innerText(), 'countdown');
  });

  let ph = null;
  await t.step('the phone opens it in WeChat: the confirm page names unit, operator and the browser', async function () {
    ph = await phone(maker.openid);
    await ph.goto(url);
    await ph.waitForURL(new RegExp('^' + demo.gateway + '/qr/s/'));
    const text = await ph.locator('body').innerText();
    t.match(/演示科技有限公司/, text, 'unit');
    t.match(/张录入/, text, 'operator');
    t.match(/127\.0\.0\.1/, text, 'the requesting browser\'s address');
  });

  await t.step('... the desktop follows: scanned', async function () {
    await state.getByText('已扫码，请在手机上确认登录').waitFor();
  });

  await t.step('... the phone confirms and the desktop lands logged in by scan', async function () {
    await Promise.all([
      desk.waitForURL(demo.gateway + '/self'),
      ph.click('button[name="do"][value="confirm"]')
    ]);
    const who = desk.locator('#who');
    await who.getByText('张录入').waitFor();
    await who.getByText('微信扫码').waitFor();
    t.match(/(登录|确认)/, await ph.locator('body').innerText(), 'the phone says it is done');
  });

  await t.step('a scan cancelled on the phone covers the code, and a new code can be had', async function () {
    const ctx = await newContext(t, browser);
    const d2 = await ctx.newPage();
    await d2.goto(demo.login + '#scan');
    await d2.locator('#qr-img').waitFor({ state: 'visible' });
    await d2.waitForFunction(function () {
      const i = document.getElementById('qr-img');
      return i.complete && i.naturalWidth > 0;
    });
    const u2 = await readQr(d2.locator('#qr-img'), path.join(t.shotDir, 'qr-login-2.png'));
    t.eq(false, u2 === url, 'a new ticket');
    const p2 = await phone(maker.openid);
    await p2.goto(u2);
    await d2.locator('#qr-state').getByText('已扫码').waitFor();
    await p2.click('button[name="do"][value="cancel"]');
    await d2.locator('#qr-cover').getByText('已在手机上取消登录').waitFor();
    await d2.click('#qr-refresh');
    await d2.locator('#qr-cover').waitFor({ state: 'hidden' });
    await d2.locator('#qr-state').getByText('请使用微信扫一扫').waitFor();
  });
});
