// The live rollout panel: listens to the deployment's server-sent events, keeps the step,
// weights, verdict, smoke results and rollback timings current, and draws canary against
// stable (error rate, latency) with uPlot. Loaded as a file: the UI's CSP allows no inline script.
(function () {
  'use strict';
  var panel = document.getElementById('rollout');
  if (!panel || typeof EventSource === 'undefined') return;
  var times = [], canaryErr = [], stableErr = [], canaryLat = [], stableLat = [], t0 = null;
  // Seconds since the page started watching on x (at least a minute shown); y from 0 with room
  // above the highest value, so a few early points neither stretch the axes nor overflow them.
  function upTo(minimum) { return function (u, min, max) { return [0, Math.max(minimum, (max || 0) * 1.2)]; }; }
  function chart(el, label, fmt, minimum) {
    if (typeof uPlot === 'undefined') return null;
    var width = Math.max(300, el.clientWidth || 480);
    return new uPlot({
      width: width, height: 200,
      scales: { x: { time: false, range: upTo(60) }, y: { range: upTo(minimum) } },
      axes: [{ values: function (u, vals) { return vals.map(function (v) { return v + ' s'; }); } }, { size: 70, values: function (u, vals) { return vals.map(fmt); } }],
      series: [{}, { label: 'canary ' + label, stroke: '#d97706', width: 2 }, { label: 'stable ' + label, stroke: '#2563eb', width: 2 }],
    }, [[], [], []], el);
  }
  var errChart = chart(document.getElementById('chart-errors'), 'errors', function (v) { return (v * 100).toFixed(2) + '%'; }, 0.01);
  var latChart = chart(document.getElementById('chart-latency'), 'latency', function (v) { return v.toFixed(1) + ' ms'; }, 1);
  function text(id, value) { var el = document.getElementById(id); if (el) el.textContent = value; }
  function list(id, items, render) {
    var el = document.getElementById(id);
    if (!el || !items.length) return;
    el.replaceChildren.apply(el, items.map(function (it) { var li = document.createElement('li'); render(li, it); return li; }));
  }
  var source = new EventSource(panel.getAttribute('data-events'));
  // A boosted navigation replaces the page without unloading it: stop listening then.
  document.body.addEventListener('htmx:beforeSwap', function () { source.close(); }, { once: true });
  source.onmessage = function (ev) {
    var s = JSON.parse(ev.data);
    text('phase', s.state + (s.phase ? ' (' + s.phase + ')' : ''));
    text('step', s.step);
    text('weight', String(s.weight));
    text('stable-weight', String(100 - s.weight));
    var c = document.getElementById('canary-bar'), st = document.getElementById('stable-bar');
    if (c && st) { c.style.width = s.weight + '%'; st.style.width = (100 - s.weight) + '%'; }
    list('reasons', s.reasons, function (li, r) { li.className = 'reason-' + r.verdict; li.textContent = r.metric + ': ' + r.verdict + ' - ' + r.sentence; });
    list('smoke', s.smoke, function (li, r) { li.className = r.ok ? 'reason-pass' : 'reason-fail'; li.textContent = (r.ok ? 'passed ' : 'FAILED ') + r.name + ': ' + r.reason; });
    if (s.rollback) {
      text('rollback-timing', 'Rolled back (' + s.rollback.trigger + '): ' + s.rollback.reason + '. Traffic back on stable after ' + s.rollback.msToTraffic + ' ms, verified after ' + s.rollback.msToVerified + ' ms.');
    }
    if (s.canary.requests > 0 || s.stable.requests > 0) {
      if (t0 === null) t0 = s.at;
      times.push(Math.round((s.at - t0) / 100) / 10);
      canaryErr.push(s.canary.errorRate); stableErr.push(s.stable.errorRate);
      canaryLat.push(s.canary.latencyMs); stableLat.push(s.stable.latencyMs);
      if (errChart) errChart.setData([times, canaryErr, stableErr]);
      if (latChart) latChart.setData([times, canaryLat, stableLat]);
    }
    // Roll back is offered while the rollout runs, live: shown when it starts, gone when it ends.
    var form = document.getElementById('rollback-form');
    if (form) form.hidden = !(s.state === 'rolling_out' || s.state === 'verifying');
    panel.setAttribute('data-state', s.state);
    panel.setAttribute('data-updates', String(Number(panel.getAttribute('data-updates') || 0) + 1));
    panel.setAttribute('data-canary-requests', String(s.canary.requests));
  };
})();
