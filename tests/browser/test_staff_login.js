/* tests/browser/test_staff_login.js: staff log in with the certificate on their own UKey and the login page takes them to their console by role (counter clerk -> /counter, helpdesk -> /helpdesk); a safe ?next= wins, an unsafe one is ignored. */
'use strict';

const { scenario, newContext } = require('./lib');

scenario('staff certificate login goes to the console of the role', async function (t, demo, browser) {
  async function certLogin(who, query, wantPath) {
    const ctx = await newContext(t, browser);
    const page = await ctx.newPage();
    const url = demo.login + (demo.login.indexOf('?') >= 0 ? '&' : '?') + query;
    await page.goto(url);
    const radio = page.locator('input[name="cert"][value="' + who.cert + '"]');
    await radio.check();
    await page.fill('#pin', demo.pin);
    const [res] = await Promise.all([
      page.waitForNavigation({ url: demo.gateway + wantPath }),
      page.click('#cert-submit')
    ]);
    t.eq(demo.gateway + wantPath, page.url(), 'landed on');
    const s = await page.evaluate(async function () {
      const r = await fetch('/auth/session', { headers: { Accept: 'application/json' } });
      return r.json();
    });
    t.eq('staff', s.kind, 'session kind');
    t.eq(who.login, s.login, 'session login');
    t.eq(JSON.stringify(who.roles), JSON.stringify(s.roles), 'session roles');
    t.eq('cert', s.method, 'session method');
    return { ctx, page, res };
  }

  await t.step('counter clerk counter1 (counter-ukey) lands on /counter', async function () {
    const r = await certLogin(demo.staff.counter1, '', '/counter');
    t.eq(200, r.res.status(), 'the counter console answers');
  });

  await t.step('helpdesk staff helpdesk1 (helpdesk-ukey) lands on /helpdesk', async function () {
    const r = await certLogin(demo.staff.helpdesk1, '', '/helpdesk');
    t.eq(200, r.res.status(), 'the helpdesk console answers');
  });

  await t.step('a safe next= wins over the role', async function () {
    await certLogin(demo.staff.helpdesk1, 'next=' + encodeURIComponent('/self'), '/self');
  });

  await t.step('an unsafe next= (another site) is ignored', async function () {
    await certLogin(demo.staff.counter1, 'next=' + encodeURIComponent('//evil.example/x'), '/counter');
  });

  await t.step('an operator without next= lands on the self-service page', async function () {
    const ctx = await newContext(t, browser);
    const page = await ctx.newPage();
    await page.goto(demo.login);
    await page.locator('input[name="cert"][value="' + demo.operators.maker.cert + '"]').check();
    await page.fill('#pin', demo.pin);
    await Promise.all([page.waitForURL(demo.gateway + '/self'), page.click('#cert-submit')]);
    await page.locator('#who').getByText('张录入').waitFor();
  });
});
