/* global document, window, uPlot */
/*
 * The finance console's charts: every element with a `data-chart` attribute holds its data as
 * JSON ({x: [Unix seconds], series: [{label, values}]}, written by the server and escaped as an
 * attribute: nothing here is executed from the page) and is drawn with uPlot. The table beneath
 * each chart has the same numbers. No inline script: the page's CSP allows only files of ours.
 */
(function () {
  'use strict';
  var COLOURS = ['#1b6b2f', '#1f5fad', '#8a3ffc', '#b3261e', '#9a6700'];
  var charts = [];

  function widthOf(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width));
  }

  function draw(el) {
    var data = JSON.parse(el.getAttribute('data-chart'));
    var lang = document.documentElement.lang === 'en' ? 'en-GB' : 'ru-RU';
    var number = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
    var day = new Intl.DateTimeFormat(lang, { timeZone: 'Europe/Moscow', day: '2-digit', month: '2-digit' });
    var opts = {
      width: widthOf(el),
      height: 260,
      tzDate: function (ts) {
        return uPlot.tzDate(new Date(ts * 1e3), 'Europe/Moscow');
      },
      cursor: { drag: { x: false, y: false } },
      series: [
        {
          label: el.getAttribute('data-x-label') || '',
          value: function (u, v) {
            return v == null ? '' : day.format(new Date(v * 1e3));
          },
        },
      ].concat(
        data.series.map(function (s, i) {
          return {
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            value: function (u, v) {
              return v == null ? '' : number.format(v);
            },
          };
        }),
      ),
      axes: [
        {
          values: function (u, splits) {
            return splits.map(function (v) {
              return day.format(new Date(v * 1e3));
            });
          },
        },
        {
          size: 72,
          values: function (u, splits) {
            return splits.map(function (v) {
              return number.format(v);
            });
          },
        },
      ],
    };
    var plot = new uPlot(
      opts,
      [data.x].concat(
        data.series.map(function (s) {
          return s.values;
        }),
      ),
      el,
    );
    // for people and tests alike: how many series were drawn
    el.setAttribute('data-drawn', String(plot.series.length - 1));
    charts.push({ el: el, plot: plot });
  }

  function start() {
    var els = document.querySelectorAll('[data-chart]');
    for (var i = 0; i < els.length; i++) draw(els[i]);
    var pending = null;
    window.addEventListener('resize', function () {
      clearTimeout(pending);
      pending = setTimeout(function () {
        charts.forEach(function (c) {
          c.plot.setSize({ width: widthOf(c.el), height: 260 });
        });
      }, 100);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
