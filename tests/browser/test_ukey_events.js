/* tests/browser/test_ukey_events.js: the login page follows the UKey live: an expired certificate greyed with its remedy, the key pulled out (ukey-sim's removed file) empties the list without a reload, put back it returns, and the PIN logs in to the demo hall. */
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { scenario, newContext, diag } = require('./lib');

const SOFTHSM = '/usr/lib/softhsm/libsofthsm2.so';
/* The agent polls PKCS#11 slots every second (AG_EVENTS_P11_POLL_MS) and
 * the page lists again 300 ms after an event: a change shows well within
 * this, also on a busy machine. */
const LIVE_MS = 15000;

/* YYYYMMDDHHMMSSZ, as `openssl ca -startdate/-enddate` takes it. */
function asn1Time(ms) {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}

/*
 * An expired certificate with its key on the demo's blank UKey, as on an
 * old key nobody had reissued: a throwaway CA (`openssl ca` is the one
 * tool here that backdates), the key and the certificate written to the
 * token through SoftHSM2 under ukey-sim. Resolves to the id the agent
 * lists it under (serial:idhex).
 */
function expiredOnSpare(demo, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const run = function (cmd, args) {
    try {
      return execFileSync(cmd, args, {
        cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
        env: Object.assign({}, process.env, { SOFTHSM2_CONF: demo.softhsmConf })
      });
    } catch (e) {
      throw new Error(cmd + ' ' + args.join(' ') + ' failed: ' + (e.stderr || e.message));
    }
  };
  fs.writeFileSync(path.join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = old', '[old]', 'database = index.txt', 'new_certs_dir = .',
    'serial = serial', 'default_md = sha256', 'policy = any', 'unique_subject = no',
    'copy_extensions = none', 'x509_extensions = ext', 'string_mask = utf8only',
    '[any]', 'commonName = supplied', 'organizationalUnitName = supplied',
    '[ext]', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = clientAuth',
    'basicConstraints = CA:FALSE', ''
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'index.txt'), '');
  fs.writeFileSync(path.join(dir, 'serial'), '0F01\n');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', '/CN=old test CA']);
  run('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', 'old.key', '-out', 'old.csr', '-utf8', '-subj', '/CN=maker/OU=DEMO01']);
  const now = Date.now();
  const day = 86400000;
  run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key',
    '-in', 'old.csr', '-out', 'old.pem', '-notext', '-utf8',
    '-startdate', asn1Time(now - 3 * 365 * day), '-enddate', asn1Time(now - 30 * day)]);
  run('openssl', ['x509', '-in', 'old.pem', '-outform', 'DER', '-out', 'old.der']);
  run('openssl', ['pkey', '-in', 'old.key', '-outform', 'DER', '-out', 'old.key.der']);
  const id = '0e';
  const tool = ['--module', SOFTHSM, '--token-label', demo.spare.tokenLabel, '--login',
    '--pin', demo.pin, '--id', id, '--label', 'old'];
  run('pkcs11-tool', tool.concat(['--write-object', 'old.key.der', '--type', 'privkey']));
  run('pkcs11-tool', tool.concat(['--write-object', 'old.der', '--type', 'cert']));
  diag('expired certificate on ' + demo.spare.tokenLabel + ': ' +
    run('openssl', ['x509', '-in', 'old.pem', '-noout', '-enddate']).trim());
  return demo.spare.token + ':' + id;
}

scenario('the login page follows the UKey in and out', async function (t, demo, browser) {
  const ctx = await newContext(t, browser);
  const page = await ctx.newPage();
  const maker = demo.operators.maker;
  const removed = path.join(demo.simDir, 'removed');
  const row = function (cert) {
    return page.locator('label.cert', { has: page.locator('input[value="' + cert + '"]') });
  };
  const none = page.locator('#cert-none');
  let old = null;

  /* The page must follow without a reload: a mark in its window survives
   * only as long as the document does. */
  const same = async function () {
    t.eq(true, await page.evaluate(function () { return window.ukeyEventsMark === 1; }),
      'the same document (no reload)');
  };

  await t.step('an expired certificate with its key on the blank UKey', async function () {
    old = expiredOnSpare(demo, path.join(demo.tmp, 'old-cert'));
  });

  await t.step('the login page lists the maker\'s certificate with its PIN state', async function () {
    await page.goto(demo.login + (demo.login.indexOf('?') >= 0 ? '&' : '?') + 'next=/hall/');
    await row(maker.cert).waitFor();
    await page.evaluate(function () { window.ukeyEventsMark = 1; });
    const text = await row(maker.cert).innerText();
    t.match(/单位：DEMO01/, text, 'unit');
    t.match(/PIN码状态正常，还可尝试 6 次/, text, 'PIN state');
    t.eq(true, await row(maker.cert).locator('input').isEnabled(), 'the maker\'s certificate can be chosen');
    t.eq(0, await none.count(), 'no "insert your UKey" text');
    /* the maker chooses their certificate and starts typing the PIN */
    await row(maker.cert).locator('input').check();
    await page.fill('#pin', demo.pin);
  });

  await t.step('... and the expired one greyed, not selectable, with the remedy', async function () {
    const r = row(old);
    await r.waitFor();
    const text = await r.innerText();
    t.match(/证书已过期/, text, 'said expired');
    t.match(/到缴存银行柜面换发/, text, 'the remedy');
    t.match(/有效期至：\d{4}\/\d{1,2}\/\d{1,2}/, text, 'the expiry shown');
    t.eq(true, await r.locator('input').isDisabled(), 'an expired certificate cannot be chosen');
    const look = await r.evaluate(function (el) {
      const s = getComputedStyle(el);
      return { off: el.classList.contains('cert-off'), opacity: Number(s.opacity) };
    });
    t.eq(true, look.off, 'the row is marked off');
    t.eq(true, look.opacity < 1, 'greyed (opacity ' + look.opacity + ')');
    t.eq(false, await row(maker.cert).evaluate(function (el) { return el.classList.contains('cert-off'); }),
      'the valid certificate is not greyed');
    await t.shot(page, 'ukey-events-1-inserted.png', false);
  });

  await t.step('the UKey pulled out: the page empties the list and asks for the key, without a reload', async function () {
    fs.writeFileSync(removed, '');
    await row(maker.cert).waitFor({ state: 'detached', timeout: LIVE_MS });
    await none.waitFor({ timeout: LIVE_MS });
    t.eq(0, await page.locator('label.cert').count(), 'no certificate listed');
    t.match(/未检测到UKey.*请插入UKey；插入后列表会自动更新/, await none.innerText(), 'the insert-your-UKey state');
    t.eq(true, await none.isVisible(), 'shown');
    t.eq('', await page.inputValue('#pin'), 'the PIN typed for the key pulled out is emptied');
    t.eq(true, await page.locator('#cert-submit').isDisabled(), 'login disabled');
    t.eq(true, await page.locator('#agent-msg').isHidden(), 'no agent error shown (the agent is fine)');
    await same();
    await t.shot(page, 'ukey-events-2-removed.png', false);
  });

  await t.step('the UKey put back: the certificates return with their PIN state, without a reload', async function () {
    fs.unlinkSync(removed);
    await row(maker.cert).waitFor({ timeout: LIVE_MS });
    await row(maker.cert).getByText('还可尝试 6 次').waitFor();
    await row(old).getByText('证书已过期').waitFor();
    t.eq(0, await none.count(), 'the insert-your-UKey text is gone');
    t.eq(true, await row(maker.cert).locator('input').isEnabled(), 'the maker\'s certificate can be chosen');
    t.eq(true, await row(maker.cert).locator('input').isChecked(), 'the certificate chosen before is chosen again');
    t.eq(false, await page.locator('#cert-submit').isDisabled(), 'login enabled again');
    await same();
    await t.shot(page, 'ukey-events-3-reinserted.png', false);
  });

  await t.step('the right PIN on the key put back lands in the demo hall', async function () {
    await page.fill('#pin', demo.pin);
    await Promise.all([
      page.waitForURL(demo.gateway + '/hall/'),
      page.click('#cert-submit')
    ]);
    const body = await page.locator('body').innerText();
    t.match(/张录入/, body, 'the hall names the operator');
    t.match(/签名有效/, body, 'the hall verified the assertion');
    await t.shot(page, 'ukey-events-4-hall.png', false);
  });
});
