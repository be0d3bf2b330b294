// watt dashboard: reads /ui/api/* of the same server (session cookie), draws with uPlot.
// Every value goes through textContent: nothing from the server is parsed as HTML.
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var state = { days: '30', prefix: '', day: null, runs: [], charts: {} };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function status(word) { return el('span', word, 'status status-' + word); }
  function num(v) { return v === null || v === undefined ? '-' : Number(v).toLocaleString('en'); }
  function bytes(v) {
    if (v === null || v === undefined) return '-';
    var u = ['B', 'KB', 'MB', 'GB', 'TB'], i = 0, n = Number(v);
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }
  function when(iso) { return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-'; }
  function row(cells, numeric) {
    var tr = document.createElement('tr');
    cells.forEach(function (c, i) {
      var td = document.createElement('td');
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === null || c === undefined ? '-' : String(c);
      if (numeric && numeric.indexOf(i) >= 0) td.className = 'num';
      tr.appendChild(td);
    });
    return tr;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function api(path, options) {
    return fetch(path, Object.assign({ credentials: 'same-origin', headers: { accept: 'application/json' } }, options || {})).then(function (r) {
      if (r.status === 401) { showLogin(); throw new Error('unauthorized'); }
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.error || ('HTTP ' + r.status)); });
      return r.status === 204 ? null : r.json();
    });
  }

  function showLogin(message) {
    $('app').hidden = true; $('logout').hidden = true; $('login').hidden = false; $('who').textContent = '';
    var err = $('login-error');
    if (message) { err.textContent = message; err.hidden = false; } else { err.hidden = true; }
    $('key').focus();
  }
  function showApp(auth) {
    $('login').hidden = true; $('app').hidden = false;
    $('logout').hidden = auth !== 'session';
    $('who').textContent = auth === 'none' ? 'no authentication (loopback, --no-auth)' : 'logged in';
    loadAll();
  }

  $('login-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var key = $('key').value;
    fetch('/ui/login', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: key }) })
      .then(function (r) { return r.json().then(function (b) { return { ok: r.ok, body: b }; }); })
      .then(function (res) {
        $('key').value = '';
        if (!res.ok) { showLogin('Login refused: ' + (res.body.error || 'error') + '.'); return; }
        showApp(res.body.auth);
      })
      .catch(function () { showLogin('Login failed: the server did not answer.'); });
  });
  $('logout').addEventListener('click', function () {
    fetch('/ui/logout', { method: 'POST', credentials: 'same-origin' }).then(function () { showLogin('Logged out.'); });
  });

  // ---- charts -------------------------------------------------------------------------------
  function width(node) { return Math.max(280, Math.min(node.clientWidth || 600, 1076)); }
  function chart(name, node, opts, data) {
    if (state.charts[name]) { state.charts[name].destroy(); delete state.charts[name]; }
    clear(node);
    node.setAttribute('data-points', String(data[0].length));
    if (!data[0].length || typeof uPlot === 'undefined') { node.appendChild(el('p', 'nothing to chart yet', 'muted')); return null; }
    opts.width = width(node); opts.height = opts.height || 220;
    var u = new uPlot(opts, data, node);
    state.charts[name] = u;
    return u;
  }
  var dayTs = function (d) { return Date.parse(d + 'T00:00:00Z') / 1000; };
  var bars = function () { return uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 40] }) : undefined; };

  // ---- runs -----------------------------------------------------------------------------------
  function loadRuns() {
    var q = '/ui/api/runs?days=' + encodeURIComponent(state.days) + (state.prefix ? '&prefix=' + encodeURIComponent(state.prefix) : '');
    return api(q).then(function (v) {
      var sel = $('prefix'), keep = state.prefix;
      clear(sel).appendChild(el('option', 'all prefixes')).value = '';
      v.prefixes.forEach(function (p) { var o = el('option', p); o.value = p; sel.appendChild(o); });
      sel.value = keep;
      // one point per day: the prefixes of a day summed (the selector narrows to one)
      var byDay = {};
      v.points.forEach(function (p) {
        var d = byDay[p.day] || (byDay[p.day] = { landed: 0, rejected: 0, failures: 0, runs: 0 });
        d.landed += p.rows_landed; d.rejected += p.rows_rejected; d.failures += p.failures; d.runs += p.runs;
      });
      var days = Object.keys(byDay).sort();
      state.days_list = days;
      var data = [days.map(dayTs), days.map(function (d) { return byDay[d].landed; }), days.map(function (d) { return byDay[d].rejected; }), days.map(function (d) { return byDay[d].failures; })];
      var runs = days.reduce(function (n, d) { return n + byDay[d].runs; }, 0);
      $('runs-summary').textContent = runs + ' runs on ' + days.length + ' days since ' + v.since.slice(0, 10) + (state.prefix ? ' (prefix ' + state.prefix + ')' : '');
      var u = chart('runs', $('runs-chart'), {
        scales: { x: { time: true }, f: { auto: true } },
        axes: [{}, { label: 'rows' }, { side: 1, scale: 'f', label: 'failed runs', grid: { show: false } }],
        series: [{}, { label: 'rows landed', stroke: '#1a7f37', width: 2, points: { show: true, size: 7 } }, { label: 'rows rejected', stroke: '#9a6700', width: 2, dash: [6, 3], points: { show: true, size: 7 } }, { label: 'failed runs', scale: 'f', stroke: '#b42318', width: 2, dash: [2, 3], points: { show: true, size: 7 } }],
      }, data);
      if (u) u.over.addEventListener('click', function (e) { var i = u.posToIdx(e.offsetX); if (i !== null && i !== undefined && days[i]) selectDay(days[i]); });
      state.runs = v.runs;
      renderRunsTable();
    });
  }
  function selectDay(day) {
    state.day = day;
    var f = $('day-filter'); f.hidden = !day; f.firstChild.textContent = day ? 'Runs of ' + day + ':' : '';
    renderRunsTable();
  }
  $('clear-day').addEventListener('click', function () { selectDay(null); });
  function renderRunsTable() {
    var body = clear($('runs-table').tBodies[0]);
    state.runs.filter(function (r) { return !state.day || r.started_at.slice(0, 10) === state.day; }).forEach(function (r) {
      var tr = row([when(r.started_at), r.verb, status(r.status), r.prefix, r.source, num(r.rows), num(r.rejected), num(r.objects), r.duration_s === null ? '-' : r.duration_s.toFixed(1) + ' s'], [5, 6, 7, 8]);
      tr.className = 'clickable'; tr.tabIndex = 0; tr.setAttribute('data-run-id', r.run_id);
      var open = function () { showRun(r.run_id); };
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', function (e) { if (e.key === 'Enter') open(); });
      body.appendChild(tr);
    });
  }
  function showRun(runId) {
    api('/ui/api/runs/' + encodeURIComponent(runId)).then(function (r) {
      var dl = clear($('run-fields'));
      var add = function (k, v) { if (v === null || v === undefined || v === '') return; dl.appendChild(el('dt', k)); var dd = el('dd'); if (v instanceof Node) dd.appendChild(v); else dd.textContent = String(v); dl.appendChild(dd); };
      $('run-detail-title').textContent = 'Run ' + r.run_id;
      add('verb', r.verb);
      add('status', status(r.status));
      add('exit code', r.exit_code);
      add('started', when(r.started_at));
      add('finished', when(r.finished_at) + (r.duration_s !== null ? ' (' + r.duration_s.toFixed(1) + ' s)' : ''));
      add('source', r.source);
      add('prefix', r.prefix);
      add('destination', r.destination);
      if (r.rows_in !== null) add('rows', r.rows_in + ' in, ' + num(r.rows) + ' landed, ' + num(r.rejected) + ' rejected'); else add('rows', r.rows);
      add('objects', r.objects);
      add('manifest', r.manifest);
      add('log', r.log ? r.log + (r.log_present ? '' : ' (removed by retention)') : null);
      if (r.detail) add('figures', Object.keys(r.detail).map(function (k) { var v = r.detail[k]; return k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v); }).join(' '));
      add('error', r.error);
      add('hint', r.hint);
      var body = clear($('run-objects').tBodies[0]);
      r.objects_list.forEach(function (o) {
        var tr = row([o.kind, o.partition_date, num(o.rows), num(o.bytes), o.key, o.deleted_at ? 'deleted ' + when(o.deleted_at) : 'live'], [2, 3]);
        tr.cells[4].className = 'key';
        body.appendChild(tr);
      });
      if (!r.objects_list.length) body.appendChild(row(['no lake object recorded', '', '', '', '', '']));
      var rej = clear($('run-rejects'));
      if (r.rejects) {
        rej.appendChild(el('h3', 'Rejected rows: ' + r.rejects.rows + (r.rejects.listed < r.rejects.rows ? ' (the log lists the first ' + r.rejects.listed + ')' : '')));
        var ul = el('ul'); r.rejects.by.forEach(function (b) { ul.appendChild(el('li', b.count + ' × ' + (b.column || '(row)') + ': ' + b.reason)); }); rej.appendChild(ul);
      }
      var tr2 = clear($('run-trail'));
      if (r.trail.length) {
        tr2.appendChild(el('h3', 'Audit trail entries'));
        var ul2 = el('ul'); r.trail.forEach(function (t) { ul2.appendChild(el('li', '#' + t.seq + ' ' + when(t.at) + ' ' + t.action + ' ×' + t.count + (t.key ? ' ' + t.key : ''))); }); tr2.appendChild(ul2);
      }
      $('run-detail').hidden = false;
      $('run-detail').scrollIntoView({ block: 'start' });
    }).catch(function () {});
  }
  $('close-detail').addEventListener('click', function () { $('run-detail').hidden = true; });

  // ---- lake -----------------------------------------------------------------------------------
  function loadLake() {
    return api('/ui/api/lake').then(function (v) {
      var body = clear($('lake-table').tBodies[0]);
      v.partitions.forEach(function (p) { body.appendChild(row([p.prefix, p.month, num(p.objects), num(p.rows), bytes(p.bytes)], [2, 3, 4])); });
      if (!v.partitions.length) body.appendChild(row(['no live data object', '', '', '', '']));
      var months = {}; v.partitions.forEach(function (p) { if (p.month !== 'undated') months[p.month] = (months[p.month] || 0) + p.bytes; });
      var ms = Object.keys(months).sort();
      chart('lake', $('lake-chart'), { height: 160, scales: { x: { time: true } }, series: [{}, { label: 'bytes', stroke: '#0b62c4', fill: 'rgba(11,98,196,0.25)', paths: bars(), points: { show: false } }] },
        [ms.map(function (m) { return Date.parse(m + '-01T00:00:00Z') / 1000; }), ms.map(function (m) { return months[m]; })]);
      var pv = clear($('purge-preview'));
      if (!v.purge_preview.length) pv.appendChild(el('p', 'no ingested prefix yet', 'muted'));
      v.purge_preview.forEach(function (p) {
        var box = el('div', null, 'preview'); box.setAttribute('data-prefix', p.prefix);
        box.appendChild(el('h4', p.prefix));
        if (p.error) { box.appendChild(el('p', 'could not read the lake: ' + p.error, 'error')); pv.appendChild(box); return; }
        box.appendChild(el('p', p.key_count ? 'would delete ' + p.key_count + ' lake objects (' + bytes(p.bytes) + ') from ' + p.lake : 'nothing to delete: every object is within its retention period'));
        if (p.categories && p.categories.length) box.appendChild(el('p', p.categories.map(function (c) { return c.id + ' ' + c.items + ' [' + c.days + ' d]'; }).join(', '), 'muted'));
        if (p.keys && p.keys.length) { var ul = el('ul', null, 'preview-keys'); p.keys.forEach(function (k) { ul.appendChild(el('li', k)); }); box.appendChild(ul); }
        box.appendChild(el('p', 'computed ' + when(p.computed_at), 'muted'));
        pv.appendChild(box);
      });
    });
  }

  // ---- GDPR -----------------------------------------------------------------------------------
  function check(label, run, extra) {
    var li = el('li'); li.appendChild(el('strong', label + ': '));
    if (!run) { li.appendChild(status('never')); li.appendChild(document.createTextNode(' never ran')); return li; }
    li.appendChild(status(run.status));
    li.appendChild(document.createTextNode(' ' + when(run.finished_at) + (extra ? ' — ' + extra : '') + (run.error ? ' — ' + run.error : '')));
    return li;
  }
  function loadGdpr() {
    return api('/ui/api/gdpr?days=' + encodeURIComponent(state.days === '30' ? '90' : state.days)).then(function (v) {
      var ul = clear($('gdpr-checks'));
      var t = el('li'); t.appendChild(el('strong', 'audit trail: ')); t.appendChild(status(v.trail.ok ? 'ok' : 'broken'));
      t.appendChild(document.createTextNode(' ' + v.trail.entries + ' entries, hash chain checked ' + when(v.trail.checked_at) + (v.trail.problem ? ' — ' + v.trail.problem : ''))); ul.appendChild(t);
      ul.appendChild(check('last watt verify', v.last_verify));
      ul.appendChild(check('last purge --verify-trail', v.last_verify_trail));
      var f = v.last_audit && v.last_audit.detail && v.last_audit.detail.findings;
      ul.appendChild(check('last audit-rgpd', v.last_audit, f ? f.error + ' errors, ' + f.warning + ' warnings, ' + f.info + ' notes' : null));
      var days = v.days.map(function (d) { return d.day; });
      chart('gdpr', $('gdpr-chart'), { height: 160, scales: { x: { time: true } }, series: [{}, { label: 'erasures', stroke: '#b42318', width: 2, points: { show: true, size: 8 } }, { label: 'retention purges', stroke: '#0b62c4', width: 2, dash: [6, 3], points: { show: true, size: 8 } }] },
        [days.map(dayTs), v.days.map(function (d) { return d.erasures; }), v.days.map(function (d) { return d.purges; })]);
      var e = v.days.reduce(function (n, d) { return n + d.erasures; }, 0), p = v.days.reduce(function (n, d) { return n + d.purges; }, 0), o = v.days.reduce(function (n, d) { return n + d.objects; }, 0);
      $('gdpr-summary').textContent = e + ' erasures and ' + p + ' retention purges since ' + v.since.slice(0, 10) + ', ' + o + ' lake objects deleted or rewritten';
    });
  }

  // ---- model ----------------------------------------------------------------------------------
  function loadModel() {
    return api('/ui/api/model').then(function (v) {
      var card = clear($('model-card'));
      if (!v.model) { card.appendChild(el('p', 'no model loaded: predictions answer 503', 'error')); }
      else {
        var dl = el('dl');
        [['version', v.model.version], ['origin', v.model.origin], ['loaded', when(v.model.loaded_at)]].forEach(function (kv) { dl.appendChild(el('dt', kv[0])); dl.appendChild(el('dd', kv[1])); });
        card.appendChild(dl);
        var t = el('table'); var th = el('thead'); th.appendChild(row(['hold-out', 'test rows', 'MAE (min)', 'late %'])); t.appendChild(th);
        var tb = el('tbody'); v.model.splits.forEach(function (s) { var r = row([s.description || s.split, num(s.test_rows), s.mae_min === null ? '-' : s.mae_min.toFixed(2), s.late_rate === null ? '-' : (100 * s.late_rate).toFixed(2) + ' %'], [1, 2, 3]); tb.appendChild(r); }); t.appendChild(tb);
        var w = el('div', null, 'table-wrap'); w.appendChild(t); card.appendChild(w);
      }
      var curve = v.model && v.model.learning_curve;
      if (curve && curve.length) {
        chart('curve', $('curve-chart'), { height: 180, scales: { x: { time: false } }, axes: [{ label: 'training nights' }, { label: 'MAE (min)' }], series: [{ label: 'nights' }, { label: 'hold-out MAE (min)', stroke: '#0b62c4', width: 2, points: { show: true, size: 8 } }] },
          [curve.map(function (p) { return p.train_nights; }), curve.map(function (p) { return p.mae_min; })]);
      } else if (v.model && v.model.splits.length) {
        chart('curve', $('curve-chart'), { height: 180, scales: { x: { time: false } }, axes: [{ label: 'hold-out split', values: function (u, ticks) { return ticks.map(function (i) { var s = v.model.splits[i]; return s ? s.split : ''; }); } }, { label: 'MAE (min)' }], series: [{ label: 'split' }, { label: 'hold-out MAE (min)', stroke: '#0b62c4', paths: bars(), fill: 'rgba(11,98,196,0.25)', points: { show: false } }] },
          [v.model.splits.map(function (_s, i) { return i; }), v.model.splits.map(function (s) { return s.mae_min; })]);
      }
      var pts = v.predictions;
      chart('predictions', $('predictions-chart'), { height: 140, scales: { x: { time: true } }, series: [{}, { label: 'predictions', stroke: '#1a7f37', fill: 'rgba(26,127,55,0.2)', paths: bars(), points: { show: false } }] },
        [pts.map(function (p) { return Date.parse(p.hour) / 1000; }), pts.map(function (p) { return p.count; })]);
      $('predictions-summary').textContent = pts.reduce(function (n, p) { return n + p.count; }, 0) + ' predictions answered since the server started';
    });
  }

  function loadAll() {
    Promise.all([loadRuns(), loadLake(), loadGdpr(), loadModel()]).then(function () { document.body.setAttribute('data-loaded', 'true'); }).catch(function () {});
  }
  $('days').addEventListener('change', function () { state.days = this.value; state.day = null; selectDay(null); loadRuns(); loadGdpr(); });
  $('prefix').addEventListener('change', function () { state.prefix = this.value; state.day = null; selectDay(null); loadRuns(); });
  window.addEventListener('resize', function () { Object.keys(state.charts).forEach(function (k) { var u = state.charts[k]; u.setSize({ width: width(u.root.parentNode), height: u.height }); }); });

  api('/ui/api/session').then(function (s) { showApp(s.auth); }).catch(function () {});
})();
