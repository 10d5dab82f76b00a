// The Yelb voting page. Every call goes to /api on the page's own origin,
// which nginx forwards to the app server. A vote waits for the app server's
// answer before the counts are read again (the original page raced).
import { ArcElement, Chart, Legend, PieController, Tooltip } from 'chart.js';

Chart.register(PieController, ArcElement, Legend, Tooltip);

// Order and colours of the original chart.
const ORDER = ['outback', 'bucadibeppo', 'ihop', 'chipotle'];
const LABELS = { outback: 'Outback', bucadibeppo: 'Buca di Beppo', ihop: 'IHOP', chipotle: 'Chipotle' };
const COLOURS = ['#5AA454', '#A10A28', '#C7B42C', '#AAAAAA'];

const app = document.getElementById('app');
const message = document.getElementById('message');
const canvas = document.getElementById('votes-chart');

const empty = document.getElementById('empty-chart');
const narrow = window.matchMedia('(max-width: 520px)');

// The chart takes the width of its card (on a phone too); the legend moves
// below it when the card is narrow.
const chart = new Chart(canvas, {
  type: 'pie',
  data: {
    labels: ORDER.map((r) => LABELS[r]),
    datasets: [{ data: ORDER.map(() => 0), backgroundColor: COLOURS }],
  },
  options: {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    plugins: { legend: { position: narrow.matches ? 'bottom' : 'right' } },
  },
});
narrow.addEventListener('change', (e) => {
  chart.options.plugins.legend.position = e.matches ? 'bottom' : 'right';
  chart.update();
});

// call fetches an API path and records which app server answered.
async function call(path, method = 'GET') {
  const res = await fetch(path, { method, cache: 'no-store', headers: { Accept: 'application/json, text/plain' } });
  const host = res.headers.get('X-Yelb-Appserver-Hostname');
  if (host) {
    const version = res.headers.get('X-Yelb-Appserver-Version') || '?';
    document.getElementById('last-answer').textContent = `${host} (version ${version})`;
  }
  const text = await res.text();
  if (!res.ok) {
    // The app server explains itself in JSON; anything else (a proxy's HTML
    // error page) is summed up by its status.
    let detail = res.statusText || 'no answer from the app server';
    try {
      detail = JSON.parse(text).error || detail;
    } catch {
      // not JSON: keep the summary
    }
    throw new Error(`${method} ${path} answered ${res.status}: ${detail}`);
  }
  return text;
}

function showVotes(votes) {
  const byName = Object.fromEntries(votes.map((v) => [v.name, Number(v.value)]));
  chart.data.datasets[0].data = ORDER.map((r) => byName[r] ?? 0);
  chart.update();
  const total = chart.data.datasets[0].data.reduce((a, b) => a + b, 0);
  empty.hidden = total > 0;
  canvas.parentElement.hidden = total === 0;
  canvas.dataset.values = JSON.stringify(chart.data.datasets[0].data);
  for (const card of document.querySelectorAll('.card')) {
    card.querySelector('.count').textContent = String(byName[card.dataset.restaurant] ?? 0);
  }
}

async function refreshVotes() {
  showVotes(JSON.parse(await call('/api/getvotes')));
}

async function refreshStats() {
  const stats = JSON.parse(await call('/api/getstats'));
  // Page views live in Redis; while it is out the app server answers null
  // and everything else keeps working.
  document.getElementById('pageviews').textContent = stats.pageviews === null ? 'unavailable right now' : String(stats.pageviews);
  document.getElementById('appserver').textContent = stats.hostname;
  document.getElementById('appserver-version').textContent = `${stats.version} (build ${stats.build})`;
}

function report(err) {
  message.textContent = err ? String(err.message || err) : '';
}

async function vote(card, button) {
  const buttons = document.querySelectorAll('.card button');
  buttons.forEach((b) => { b.disabled = true; });
  app.dataset.state = 'voting';
  try {
    await call(`/api/${card.dataset.restaurant}`, 'POST');
    await refreshVotes();
    report(null);
    app.dataset.state = 'ready';
  } catch (err) {
    report(err);
    app.dataset.state = 'error';
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
    button.focus();
  }
}

for (const card of document.querySelectorAll('.card')) {
  const button = card.querySelector('button');
  button.addEventListener('click', () => vote(card, button));
}

Promise.all([refreshVotes(), refreshStats()])
  .then(() => {
    report(null);
    app.dataset.state = 'ready';
  })
  .catch((err) => {
    report(err);
    app.dataset.state = 'error';
  });
