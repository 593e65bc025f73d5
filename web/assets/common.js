/* web/assets/common.js: what every page shares: the language switch (Chinese first, English stored in localStorage), calls to the gateway, and how an error is shown (code, message, remedy, event number). */
'use strict';

(function () {
  const T = {
    'app.title': ['住房公积金单位网上业务大厅', 'Housing Provident Fund Online Hall for Employers'],
    'lang.switch': ['English', '中文'],
    'err.code': ['错误代码', 'Error code'],
    'err.event': ['事件编号', 'Event number'],
    'err.remedy': ['处理办法', 'What to do'],
    'err.seed': ['原系统提示', 'Former message'],
    'err.network': ['无法连接服务器，请检查网络后重试', 'Cannot reach the server; check the network and retry'],
    'err.helpdesk': ['如需帮助，请将事件编号告知服务热线。', 'Tell the helpdesk the event number if you need help.'],
    'common.loading': ['正在加载…', 'Loading…'],
    'common.retry': ['重试', 'Retry'],
    'common.back_login': ['返回登录', 'Back to login']
  };

  let lang = localStorage.getItem('ukey.lang') === 'en' ? 'en' : 'zh';

  /* Adds page strings: {key: [zh, en]}. */
  function strings(more) {
    Object.keys(more).forEach(function (k) { T[k] = more[k]; });
  }

  /* The text of key in the current language; {0}, {1} ... replaced. */
  function t(key) {
    const pair = T[key];
    let s = pair ? pair[lang === 'en' ? 1 : 0] : key;
    for (let i = 1; i < arguments.length; i++) {
      s = s.split('{' + (i - 1) + '}').join(String(arguments[i]));
    }
    return s;
  }

  function apply(root) {
    const r = root || document;
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
    r.querySelectorAll('[data-i18n]').forEach(function (el) {
      el.textContent = t(el.dataset.i18n);
    });
    r.querySelectorAll('[data-i18n-ph]').forEach(function (el) {
      el.placeholder = t(el.dataset.i18nPh);
    });
    r.querySelectorAll('[data-i18n-label]').forEach(function (el) {
      el.setAttribute('aria-label', t(el.dataset.i18nLabel));
    });
    const title = document.querySelector('meta[name="page-title"]');
    if (title) {
      document.title = t(title.content) + ' - ' + t('app.title');
    }
    /* the switch names the other language, in that language, on every
     * page (whether or not its button carries data-i18n) */
    const sw = document.getElementById('lang-switch');
    if (sw) {
      sw.textContent = t('lang.switch');
      sw.lang = lang === 'en' ? 'zh-CN' : 'en';
    }
  }

  function setLang(l) {
    lang = l === 'en' ? 'en' : 'zh';
    localStorage.setItem('ukey.lang', lang);
    apply(document);
    document.dispatchEvent(new CustomEvent('uk-lang'));
  }

  function acceptLanguage() {
    return lang === 'en' ? 'en' : 'zh-CN';
  }

  /*
   * A JSON request to url. Resolves to {status, json} (json null when the
   * answer was not JSON); rejects only when nothing was answered (network,
   * CORS, or a browser that blocks the address). signal: an AbortSignal,
   * optional.
   */
  async function request(method, url, body, headers, signal) {
    const h = Object.assign({ 'Accept': 'application/json', 'Accept-Language': acceptLanguage() }, headers || {});
    const init = { method: method, headers: h, cache: 'no-store' };
    if (signal) {
      init.signal = signal;
    }
    if (url.charAt(0) === '/') {
      init.credentials = 'same-origin';
    } else {
      init.credentials = 'omit';
      init.mode = 'cors';
    }
    if (body !== undefined) {
      h['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    let json = null;
    try {
      json = await res.json();
    } catch (e) {
      json = null;
    }
    return { status: res.status, json: json };
  }

  /* The gateway's (or the agent's) error object of an answer, or one made
   * from code and the page's own text. */
  function errorOf(ans, fallback) {
    if (ans && ans.json && ans.json.error && ans.json.error.code) {
      return ans.json.error;
    }
    return fallback || { code: 'UK-1001', message: t('err.network') };
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined && text !== null) {
      e.textContent = text;
    }
    return e;
  }

  /*
   * Shows err ({code, message, remedy, event, seed?}) in box: the message,
   * then code, event number and remedy, each on its own line. extra: more
   * lines (strings) after the message. box gets role=alert.
   */
  function showError(box, err, extra) {
    box.textContent = '';
    box.hidden = false;
    box.className = 'msg msg-error';
    box.setAttribute('role', 'alert');
    box.appendChild(el('p', 'msg-title', err.message || err.code));
    (extra || []).forEach(function (line) {
      if (line) {
        box.appendChild(el('p', null, line));
      }
    });
    const dl = el('dl', 'msg-facts');
    function fact(k, v) {
      if (!v) {
        return;
      }
      dl.appendChild(el('dt', null, t(k)));
      const dd = el('dd', null, v);
      dl.appendChild(dd);
    }
    fact('err.code', err.code);
    fact('err.remedy', err.remedy);
    fact('err.event', err.event);
    fact('err.seed', err.seed);
    box.appendChild(dl);
    if (err.event) {
      box.appendChild(el('p', 'msg-hint', t('err.helpdesk')));
    }
  }

  function showInfo(box, text, kind) {
    box.textContent = '';
    box.hidden = false;
    box.className = 'msg ' + (kind === 'ok' ? 'msg-ok' : 'msg-info');
    box.setAttribute('role', 'status');
    box.appendChild(el('p', null, text));
  }

  function hide(box) {
    box.hidden = true;
    box.textContent = '';
  }

  /* A same-site path to go to after login: "/..." but not "//", not a
   * login page; else dflt. */
  function safeNext(next, dflt) {
    if (typeof next !== 'string' || next.length > 1000 || next.charAt(0) !== '/' ||
        next.charAt(1) === '/' || next.charAt(1) === '\\' || /[\u0000-\u001f]/.test(next) ||
        next === '/login' || next.indexOf('/login?') === 0 || next.indexOf('/login/') === 0) {
      return dflt;
    }
    return next;
  }

  function param(name) {
    return new URLSearchParams(window.location.search).get(name);
  }

  /* Local date and time of an RFC 3339 text or UTC seconds. */
  function when(v) {
    const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
    if (isNaN(d.getTime())) {
      return String(v);
    }
    return d.toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { hour12: false });
  }

  function day(v) {
    const d = new Date(v);
    if (isNaN(d.getTime())) {
      return String(v);
    }
    return d.toLocaleDateString(lang === 'en' ? 'en-GB' : 'zh-CN');
  }

  function init() {
    const sw = document.getElementById('lang-switch');
    if (sw) {
      sw.addEventListener('click', function () {
        setLang(lang === 'en' ? 'zh' : 'en');
      });
    }
    apply(document);
  }

  window.UK = {
    strings: strings, t: t, apply: apply, setLang: setLang,
    lang: function () { return lang; },
    request: request, errorOf: errorOf, showError: showError, showInfo: showInfo,
    hide: hide, el: el, safeNext: safeNext, param: param, when: when, day: day, init: init
  };
})();
