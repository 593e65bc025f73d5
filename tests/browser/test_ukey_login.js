/* tests/browser/test_ukey_login.js: UKey login in chromium through the real agent: the certificate list with PIN state, a wrong PIN shows the tries left, six wrong PINs lock the key (with the counter remedy), and the right PIN lands in the demo hall. */
'use strict';

const { scenario, newContext } = require('./lib');

scenario('UKey login through the agent', async function (t, demo, browser) {
  const ctx = await newContext(t, browser);
  const page = await ctx.newPage();
  const maker = demo.operators.maker;
  const checker = demo.operators.checker;
  const row = function (cert) {
    return page.locator('label.cert', { has: page.locator('input[value="' + cert + '"]') });
  };
  const err = page.locator('#cert-err');

  await t.step('the login page lists the four certificates from the agent', async function () {
    await page.goto(demo.login + (demo.login.indexOf('?') >= 0 ? '&' : '?') + 'next=/hall/');
    await page.locator('label.cert').nth(3).waitFor();
    t.eq(4, await page.locator('label.cert').count(), 'certificates listed');
    t.eq(0, await page.getByText('正在加载…').count(), 'loading text gone');
  });

  await t.step('... each with holder, unit, expiry and PIN state before typing', async function () {
    const text = await row(maker.cert).innerText();
    t.match(/maker/, text, 'holder');
    t.match(/单位：DEMO01/, text, 'unit');
    t.match(/有效期至：\d{4}\/\d{1,2}\/\d{1,2}/, text, 'expiry');
    t.match(/PIN码状态正常，还可尝试 6 次/, text, 'PIN state');
    t.eq(true, await page.locator('#pin').isVisible(), 'PIN field (pin_source = request)');
    /* the README's picture (docs/screenshot-login.png) */
    await t.shot(page, 'login-certificates.png', false);
  });

  await t.step('a wrong PIN: the error with code, tries left and event number', async function () {
    await row(checker.cert).locator('input').check();
    await page.fill('#pin', '000000');
    await page.click('#cert-submit');
    await err.locator('.msg-title').waitFor();
    const text = await err.innerText();
    t.match(/UK-2003/, text, 'code');
    t.match(/5/, text, 'tries left');
    t.match(/处理办法/, text, 'remedy');
    await row(checker.cert).getByText('还可尝试 5 次').waitFor();
    t.eq('', await page.inputValue('#pin'), 'the PIN field is emptied');
  });

  await t.step('... four more: one try left, said before typing', async function () {
    for (let left = 4; left >= 1; left--) {
      await row(checker.cert).locator('input').check();
      await page.fill('#pin', '000000');
      await page.click('#cert-submit');
      const want = left === 1 ? '仅剩最后 1 次尝试机会' : '还可尝试 ' + left + ' 次';
      await row(checker.cert).getByText(want).waitFor();
    }
  });

  await t.step('the sixth wrong PIN locks the key: the locked message and the counter remedy', async function () {
    await row(checker.cert).locator('input').check();
    await page.fill('#pin', '000000');
    await page.click('#cert-submit');
    await row(checker.cert).getByText('PIN码已锁定').waitFor();
    const text = await row(checker.cert).innerText();
    t.match(/缴存银行柜面解锁或换发证书/, text, 'remedy in the list');
    t.eq(true, await row(checker.cert).locator('input').isDisabled(), 'a locked key cannot be chosen');
    t.match(/UK-20\d\d/, await err.innerText(), 'the refusal has its code');
    await t.shot(page, 'ukey-locked.png');
  });

  await t.step('the right PIN on the maker\'s key lands in the demo hall', async function () {
    await row(maker.cert).locator('input').check();
    await page.fill('#pin', demo.pin);
    await Promise.all([
      page.waitForURL(demo.gateway + '/hall/'),
      page.click('#cert-submit')
    ]);
    const body = await page.locator('body').innerText();
    t.match(/张录入/, body, 'the hall names the operator');
    t.match(/签名有效/, body, 'the hall verified the assertion');
  });

  await t.step('the full-scope page of the hall opens (scope full)', async function () {
    const res = await page.goto(demo.gateway + '/hall/declare');
    t.eq(200, res.status(), '/hall/declare');
  });
});
