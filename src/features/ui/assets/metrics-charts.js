// The metrics page's charts: deployments per day (succeeded, failed) and the change failure
// rate per day, drawn with uPlot from the JSON the page puts in #metrics-charts' data-series.
// Loaded as a file: the UI's CSP allows no inline script.
(function () {
  'use strict';
  var box = document.getElementById('metrics-charts');
  if (!box || typeof uPlot === 'undefined') return;
  var s = JSON.parse(box.getAttribute('data-series') || '{"days":[],"succeeded":[],"failed":[]}');
  // x: seconds since the epoch at each day's midnight (UTC), as uPlot's time scale wants.
  var xs = s.days.map(function (d) { return Date.parse(d + 'T00:00:00Z') / 1000; });
  var rate = s.days.map(function (_d, i) { var n = s.succeeded[i] + s.failed[i]; return n ? s.failed[i] / n : null; });
  function upTo(minimum) { return function (u, min, max) { return [0, Math.max(minimum, (max || 0) * 1.2)]; }; }
  // Side by side: succeeded left of the day's tick, failed right of it.
  function bars(align) { return uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.4, 20], align: align }) : undefined; }
  function chart(id, series, data, fmt, minimum) {
    var el = document.getElementById(id);
    if (!el) return;
    new uPlot({
      width: Math.max(300, el.clientWidth || 480), height: 200,
      // Half a day either side, so the first and last days' bars are not cut off.
      scales: { x: { time: true, range: function (u, min, max) { return [min - 43200, max + 43200]; } }, y: { range: upTo(minimum) } },
      axes: [{}, { size: 60, values: function (u, vals) { return vals.map(fmt); } }],
      series: [{}].concat(series),
    }, [xs].concat(data), el);
  }
  chart('chart-deploys', [
    { label: 'succeeded', stroke: '#15803d', fill: 'rgba(21,128,61,0.5)', paths: bars(-1), points: { show: false } },
    { label: 'failed', stroke: '#b91c1c', fill: 'rgba(185,28,28,0.5)', paths: bars(1), points: { show: false } },
  ], [s.succeeded, s.failed], function (v) { return String(v); }, 1);
  chart('chart-failure-rate', [{ label: 'change failure rate', stroke: '#b45309', width: 2, spanGaps: false }], [rate], function (v) { return (v * 100).toFixed(0) + '%'; }, 0.1);
  box.setAttribute('data-drawn', 'yes');
})();
