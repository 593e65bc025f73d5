/* tests/browser/test_sms_reset.js: the forgotten-password pages in chromium with the `file` SMS provider: account -> 6-digit code read from the SMS file -> new password; a wrong code refused with its code; the operator's old sessions are gone, the old password no longer works, the new one does. */
'use strict';

const { scenario, newContext, waitSms, lastSmsId } = require('./lib');

scenario('SMS password reset', async function (t, demo, browser) {
  const maker = demo.operators.maker;
  const NEW_PW = 'Neu' + Date.now().toString(36) + '9z';
  const old = await (await newContext(t, browser)).newPage();
  const page = await (await newContext(t, browser)).newPage();
  const msg = page.locator('#r-msg');

  await t.step('the maker is logged in with the password in one browser', async function () {
    await old.goto(demo.login + '#password');
    await old.fill('#pw-login', maker.login);
    await old.fill('#pw-password', maker.password);
    await Promise.all([old.waitForURL(demo.gateway + '/self'), old.click('#pw-submit')]);
    await old.locator('#who').getByText('张录入').waitFor();
  });

  const before = lastSmsId(demo);
  let sms = null;
  await t.step('another browser: "forgot password", the account, an SMS with a 6-digit code', async function () {
    await page.goto(demo.login + '#password');
    await Promise.all([page.waitForURL(demo.gateway + '/login/reset'), page.click('#pw-forgot')]);
    await page.fill('#r-login', maker.login);
    await page.press('#r-login', 'Enter');
    await page.locator('#f-verify').waitFor({ state: 'visible' });
    t.eq('step', await page.locator('#step-2').getAttribute('aria-current'), 'step 2 is current');
    sms = await waitSms(demo, maker.phone, 'reset_code', before);
    t.match(/^[0-9]{6}$/, sms.params.code, 'the code');
  });

  await t.step('a wrong code is refused with its code and event number', async function () {
    const wrong = sms.params.code === '000000' ? '111111' : '000000';
    await page.fill('#r-code', wrong);
    await page.press('#r-code', 'Enter');
    await msg.locator('.msg-title').waitFor();
    const text = await msg.innerText();
    t.match(/UK-\d{4}/, text, 'code');
    t.match(/事件编号\s*[0-9A-F]{32}/, text, 'event number');
    t.eq(true, await page.locator('#f-verify').isVisible(), 'still at the code step');
  });

  await t.step('the code from the SMS leads to the new password step', async function () {
    await page.fill('#r-code', sms.params.code);
    await page.press('#r-code', 'Enter');
    await page.locator('#f-password').waitFor({ state: 'visible' });
  });

  await t.step('the new password is set, and a notice goes by SMS', async function () {
    await page.fill('#r-pw', NEW_PW);
    await page.fill('#r-pw2', NEW_PW);
    await page.press('#r-pw2', 'Enter');
    await msg.getByText('密码已重置').waitFor();
    t.eq(false, await page.locator('#f-password').isVisible(), 'the form is gone');
    await waitSms(demo, maker.phone, 'reset_notice', sms.id);
  });

  await t.step('the old session is gone: the self page sends to the login page', async function () {
    await old.reload();
    await old.waitForURL(new RegExp('^' + demo.gateway + '/login\\?next=%2Fself'));
  });

  await t.step('the old password no longer works', async function () {
    await page.goto(demo.login + '#password');
    await page.fill('#pw-login', maker.login);
    await page.fill('#pw-password', maker.password);
    await page.click('#pw-submit');
    await page.locator('#pw-err').getByText('UK-4101').waitFor();
  });

  await t.step('the new one does', async function () {
    await page.fill('#pw-password', NEW_PW);
    await Promise.all([page.waitForURL(demo.gateway + '/self'), page.click('#pw-submit')]);
    await page.locator('#who').getByText('张录入').waitFor();
  });
});
