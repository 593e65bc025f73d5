/* tests/browser/lib.js: what the browser tests share: the demo system started for one test (scripts/demo.sh --background) and stopped by pid, Debian's chromium through playwright-core, TAP output, screenshots, and the rule that a console error, an uncaught exception or a failed same-origin load fails the test. */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, execFileSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = process.env.UKEY_BUILD || path.join(ROOT, 'build');
const CHROMIUM = process.env.UKEY_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(BUILD, 'browser');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/* A whole scenario, demo start included, must end well within this. */
const SCENARIO_MS = 120000;

let playwright = null;

function loadPlaywright() {
  try {
    playwright = require(path.join(ROOT, 'node_modules', 'playwright-core'));
  } catch (e) {
    throw new Error('playwright-core is not installed (node_modules/): run `make node-modules` (npm ci)');
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(CHROMIUM + ' is missing: run scripts/deps.sh (Debian package chromium)');
  }
}

/* --- TAP --- */

let nTests = 0;
let nFailed = 0;

function tap(ok, name, detail) {
  nTests++;
  if (!ok) {
    nFailed++;
  }
  process.stdout.write((ok ? 'ok ' : 'not ok ') + nTests + ' - ' + name.replace(/\n/g, ' ') + '\n');
  if (detail) {
    String(detail).split('\n').slice(0, 40).forEach(function (l) {
      process.stdout.write('#   ' + l + '\n');
    });
  }
}

function diag(msg) {
  process.stdout.write('# ' + msg + '\n');
}

/* --- the demo system --- */

/*
 * Starts the whole demo on loopback in a new temporary directory, on free
 * ports: resolves to demo.json's object (URLs, logins, passwords, PIN,
 * tokens, pids) with tmp set.
 */
async function startDemo() {
  const base = process.env.UKEY_TEST_TMP || os.tmpdir();
  const tmp = fs.mkdtempSync(path.join(base, 'browser.'));
  const dir = path.join(tmp, 'demo');
  const log = path.join(tmp, 'demo.out');
  const out = fs.openSync(log, 'w');
  const started = Date.now();
  const child = spawn('sh', [path.join(ROOT, 'scripts', 'demo.sh'), '--background', '--dir', dir,
    '--port', '0', '--agent-port', '0'], {
    cwd: ROOT, stdio: ['ignore', out, out],
    env: Object.assign({}, process.env, { UKEY_BUILD: BUILD })
  });
  const rc = await new Promise(function (resolve) {
    child.on('exit', function (code, sig) { resolve(sig ? 128 : code); });
  });
  fs.closeSync(out);
  const demoJson = path.join(dir, 'demo.json');
  if (rc !== 0 || !fs.existsSync(demoJson)) {
    const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
    /* whatever it managed to start */
    killPids(readPids(path.join(dir, 'pids')));
    throw new Error('scripts/demo.sh --background failed (status ' + rc + '):\n' + text.split('\n').slice(-25).join('\n'));
  }
  const demo = JSON.parse(fs.readFileSync(demoJson, 'utf8'));
  demo.tmp = tmp;
  diag('demo up in ' + ((Date.now() - started) / 1000).toFixed(1) + ' s: ' + demo.gateway + ' (agent ' + demo.agent + ')');
  return demo;
}

function readPids(file) {
  try {
    return fs.readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch (e) {
    return [];
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return false;
  }
}

/* SIGTERM to each pid, SIGKILL after 5 s to what is left. */
function killPids(pids) {
  pids.forEach(function (p) {
    try {
      process.kill(p, 'SIGTERM');
    } catch (e) { /* gone */ }
  });
  const until = Date.now() + 5000;
  let left = pids.filter(alive);
  while (left.length && Date.now() < until) {
    execFileSync('sleep', ['0.05']);
    left = left.filter(alive);
  }
  left.forEach(function (p) {
    try {
      process.kill(p, 'SIGKILL');
    } catch (e) { /* gone */ }
  });
}

function stopDemo(demo) {
  if (!demo) {
    return;
  }
  killPids(demo.pids || []);
  if (!process.env.UKEY_KEEP_DEMO) {
    fs.rmSync(demo.tmp, { recursive: true, force: true });
  } else {
    diag('demo state kept in ' + demo.tmp);
  }
}

/* --- chromium --- */

async function launch() {
  return playwright.chromium.launch({
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 30000
  });
}

/*
 * A new browser context (a browser profile of its own: cookies, storage)
 * at 1280x800, Chinese first; every page opened in it is watched.
 */
async function newContext(t, browser, opts) {
  const ctx = await browser.newContext(Object.assign({
    viewport: { width: 1280, height: 800 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai'
  }, opts || {}));
  ctx.setDefaultTimeout(20000);
  ctx.on('page', function (page) { t.watch(page); });
  return ctx;
}

/* --- QR codes and SMS --- */

/* The text of the QR code the element shows, as a camera would read it
 * (a screenshot of the element through zbarimg). */
async function readQr(locator, file) {
  await locator.screenshot({ path: file });
  try {
    return execFileSync('zbarimg', ['--raw', '-q', file],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch (e) {
    throw new Error('zbarimg read no QR code from ' + file);
  }
}

/*
 * Waits (polling the file the gateway's `file` SMS provider appends to, one
 * JSON object a line: id, phone, template, params, at) for an SMS to phone
 * with template whose id is above afterId; resolves to that object.
 */
async function waitSms(demo, phone, template, afterId, ms) {
  const until = Date.now() + (ms || 20000);
  for (;;) {
    let text = '';
    try {
      text = fs.readFileSync(demo.sms, 'utf8');
    } catch (e) { /* not yet */ }
    const found = smsList(text).filter(function (m) {
      return m.phone === phone && m.template === template && m.id > (afterId || 0);
    });
    if (found.length) {
      return found[found.length - 1];
    }
    if (Date.now() > until) {
      throw new Error('no "' + template + '" SMS to ' + phone + ' in ' + demo.sms + ':\n' + text.slice(-800));
    }
    await new Promise(function (r) { setTimeout(r, 100); });
  }
}

function smsList(text) {
  return text.split('\n').filter(Boolean).map(function (l) {
    try {
      return JSON.parse(l);
    } catch (e) {
      return {};
    }
  });
}

/* The id of the last SMS sent so far (0: none). */
function lastSmsId(demo) {
  let text = '';
  try {
    text = fs.readFileSync(demo.sms, 'utf8');
  } catch (e) {
    return 0;
  }
  return smsList(text).reduce(function (n, m) { return Math.max(n, m.id || 0); }, 0);
}

/* --- a scenario --- */

/*
 * Runs one scenario: body(t, demo, browser). t.step(name, fn) runs a step
 * and reports it; the first failing step ends the scenario. After the
 * steps: a screenshot of every open page, and one test line saying that
 * no page logged a console error, threw, or failed to load something of
 * its own origin. Exit status 0 only when everything passed.
 */
function scenario(name, body) {
  const problems = [];
  const pages = [];
  const expected = []; /* [RegExp of URL, status] */
  let demo = null;
  let browser = null;
  let failedStep = false;
  const t0 = Date.now();

  const t = {
    shotDir: SHOTS,
    /* this status of a URL matching re is part of the scenario */
    expectStatus: function (re, status) { expected.push([re, status]); },
    watch: function (page) {
      pages.push(page);
      const origin = demo ? demo.gateway : null;
      const where = function () { return page.url(); };
      page.on('console', function (m) {
        if (m.type() !== 'error') {
          return;
        }
        const text = m.text();
        /* Chromium logs every 4xx of a fetch the page handles itself (a
         * wrong password is a 401); loads are judged by their responses
         * below instead. */
        if (/^Failed to load resource: the server responded with a status of 4[0-9][0-9]/.test(text)) {
          return;
        }
        problems.push('console error on ' + where() + ': ' + text);
      });
      page.on('pageerror', function (e) {
        problems.push('uncaught exception on ' + where() + ': ' + (e && e.stack ? e.stack : e));
      });
      page.on('requestfailed', function (rq) {
        if (!origin || rq.url().indexOf(origin + '/') !== 0) {
          return;
        }
        const f = rq.failure() ? rq.failure().errorText : '';
        /* a long poll, a fetch or an image cut short by leaving the page */
        if (f === 'net::ERR_ABORTED' && rq.resourceType() !== 'document') {
          return;
        }
        problems.push('request failed: ' + rq.method() + ' ' + rq.url() + ' (' + f + ')');
      });
      page.on('response', function (res) {
        const rq = res.request();
        const type = rq.resourceType();
        if (!origin || res.url().indexOf(origin + '/') !== 0 || res.status() < 400 ||
            ['document', 'script', 'stylesheet', 'image', 'font'].indexOf(type) < 0) {
          return;
        }
        const ok = expected.some(function (e) { return e[0].test(res.url()) && e[1] === res.status(); });
        if (!ok) {
          problems.push('load failed: ' + rq.method() + ' ' + res.url() + ' -> ' + res.status() + ' (' + type + ')');
        }
      });
    },
    step: async function (what, fn) {
      if (failedStep) {
        return undefined;
      }
      const s = Date.now();
      try {
        const v = await fn();
        tap(true, what + ' (' + ((Date.now() - s) / 1000).toFixed(1) + ' s)');
        return v;
      } catch (e) {
        failedStep = true;
        tap(false, what, e && e.stack ? e.stack : String(e));
        throw new StepFailed();
      }
    },
    /* a check inside a step */
    eq: function (want, got, what) {
      if (want !== got) {
        throw new Error((what || 'value') + ': want ' + JSON.stringify(want) + ', got ' + JSON.stringify(got));
      }
    },
    match: function (re, got, what) {
      if (!re.test(got)) {
        throw new Error((what || 'value') + ': ' + JSON.stringify(got) + ' does not match ' + re);
      }
    },
    /* a screenshot in the build directory (build/browser/file); the whole
     * page unless full is false */
    shot: async function (page, file, full) {
      fs.mkdirSync(SHOTS, { recursive: true });
      const p = path.join(SHOTS, file);
      await page.screenshot({ path: p, fullPage: full !== false });
      return p;
    },
    problems: problems
  };

  class StepFailed extends Error {}

  const timer = setTimeout(function () {
    tap(false, name + ': the scenario did not end within ' + SCENARIO_MS / 1000 + ' s');
    stopDemo(demo);
    process.exit(1);
  }, SCENARIO_MS);

  (async function () {
    diag('scenario: ' + name);
    try {
      loadPlaywright();
      demo = await startDemo();
      browser = await launch();
      await body(t, demo, browser);
    } catch (e) {
      if (!(e instanceof StepFailed)) {
        tap(false, name + ': set-up', e && e.stack ? e.stack : String(e));
      }
    }
    /* screenshots of what is on screen now, failed or not */
    const base = path.basename(process.argv[1], '.js');
    for (let i = 0; i < pages.length; i++) {
      if (pages[i].isClosed()) {
        continue;
      }
      try {
        const p = await t.shot(pages[i], base + (i ? '-' + i : '') + '.png');
        diag('screenshot ' + p);
      } catch (e) {
        diag('no screenshot: ' + e.message);
      }
    }
    if (browser) {
      tap(problems.length === 0, 'no console error, uncaught exception or failed load of the pages',
        problems.join('\n'));
      await browser.close().catch(function () {});
    }
    stopDemo(demo);
    clearTimeout(timer);
    diag(name + ': ' + ((Date.now() - t0) / 1000).toFixed(1) + ' s');
    process.stdout.write('1..' + nTests + '\n');
    process.exit(nFailed === 0 && nTests > 0 ? 0 : 1);
  })();
}

module.exports = { scenario, newContext, readQr, waitSms, lastSmsId, diag, ROOT, BUILD };
