#!/usr/bin/env node
// BullMQ 5.x throughput peer for the Python streams benchmark.
//
// usage: node peer.mjs [--jobs 20000] [--concurrency 50]
//                      [--redis redis://127.0.0.1:6379/0] [--prefix NAME]
//                      [--also-concurrency-1] [--timeout 120]
//        node peer.mjs --latency [--rate 1000] [--seconds 10] [--concurrency 50] [--redis URL]
//
// --latency: a worker in a child process (--latency-worker) records when each job starts; this
// process adds one job at a time at --rate jobs/s for --seconds; publish -> start p50/p99/max (ms).
//
// Prints exactly one JSON line on stdout; everything else goes to stderr.
// All keys live under "<prefix>:" and are obliterated before exit.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';

// Keep stdout for the single result line, whatever a library logs.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

const require = createRequire(import.meta.url);
const BULLMQ_VERSION = require('bullmq/package.json').version;
const CHUNK = 1000;

function log(...args) {
  console.error('[bullmq-peer]', ...args);
}

function parseArgs(argv) {
  const opts = {
    jobs: 20000,
    concurrency: 50,
    redis: 'redis://127.0.0.1:6379/0',
    prefix: `bench-bullmq-${process.pid}-${Date.now()}`,
    alsoC1: false,
    timeout: 120,
    latency: false,
    latencyWorker: false,
    rate: 1000,
    seconds: 10,
    queue: 'latency',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`missing value for ${arg}`);
      return v;
    };
    switch (arg) {
      case '--jobs': opts.jobs = Number(value()); break;
      case '--concurrency': opts.concurrency = Number(value()); break;
      case '--redis': opts.redis = value(); break;
      case '--prefix': opts.prefix = value(); break;
      case '--also-concurrency-1': opts.alsoC1 = true; break;
      case '--timeout': opts.timeout = Number(value()); break;
      case '--latency': opts.latency = true; break;
      case '--latency-worker': opts.latencyWorker = true; break;
      case '--rate': opts.rate = Number(value()); break;
      case '--seconds': opts.seconds = Number(value()); break;
      case '--queue': opts.queue = value(); break;
      case '-h':
      case '--help':
        console.error('usage: node peer.mjs [--jobs N] [--concurrency C] [--redis URL] '
          + '[--prefix P] [--also-concurrency-1] [--timeout SECONDS]');
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument: ${arg}`);
    }
  }
  for (const k of ['jobs', 'concurrency', 'timeout', 'rate']) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) {
      throw new Error(`--${k} must be a positive integer, got ${opts[k]}`);
    }
  }
  if (!opts.prefix || opts.prefix.includes(':')) {
    throw new Error('--prefix must be non-empty and contain no ":"');
  }
  return opts;
}

function connectionFromUrl(url) {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`unsupported redis URL scheme: ${u.protocol}`);
  }
  const conn = {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
  };
  if (u.username) conn.username = decodeURIComponent(u.username);
  if (u.password) conn.password = decodeURIComponent(u.password);
  if (u.protocol === 'rediss:') conn.tls = {};
  return conn;
}

const round = (x) => Math.round(x * 10) / 10;

// Everything opened is tracked here so cleanup can always close it.
const queues = [];
const workers = [];
let abortRun = null; // rejects the phase currently waiting, on soft timeout
let softExpired = null; // set to an Error once the soft deadline has passed
let cleaning = null;

async function cleanup() {
  if (cleaning) return cleaning;
  cleaning = (async () => {
    for (const w of workers) {
      try { await w.close(true); } catch (e) { log('worker close failed:', e.message); }
    }
    for (const q of queues) {
      try { await q.obliterate({ force: true }); } catch (e) { log(`obliterate ${q.name} failed:`, e.message); }
      try { await q.close(); } catch (e) { log(`queue close ${q.name} failed:`, e.message); }
    }
  })();
  return cleaning;
}

async function enqueue(queue, n) {
  const t0 = performance.now();
  for (let start = 0; start < n; start += CHUNK) {
    if (softExpired) throw softExpired;
    const end = Math.min(start + CHUNK, n);
    const batch = new Array(end - start);
    for (let i = start; i < end; i++) batch[i - start] = { name: 'noop', data: { i } };
    await queue.addBulk(batch);
  }
  return (performance.now() - t0) / 1000;
}

// Starts one worker and resolves with the seconds until n jobs completed.
function processAll(queueName, n, concurrency, connection, prefix) {
  return new Promise((resolve, reject) => {
    let completed = 0;
    let failed = 0;
    if (softExpired) return reject(softExpired);
    abortRun = reject;
    const t0 = performance.now();
    const worker = new Worker(queueName, async () => {}, {
      connection,
      prefix,
      concurrency,
      autorun: true,
    });
    workers.push(worker);
    worker.on('completed', () => {
      completed += 1;
      if (completed + failed === n) {
        const secs = (performance.now() - t0) / 1000;
        abortRun = null;
        if (failed) reject(new Error(`${failed} of ${n} jobs failed`));
        else resolve(secs);
      }
    });
    worker.on('failed', (_job, err) => {
      failed += 1;
      log('job failed:', err && err.message);
      if (completed + failed === n) reject(new Error(`${failed} of ${n} jobs failed`));
    });
    worker.on('error', (err) => log('worker error:', err.message));
  });
}

async function checkCounts(queue, n) {
  const counts = await queue.getJobCounts('completed', 'failed', 'wait', 'active', 'delayed');
  if (counts.completed !== n) {
    throw new Error(`expected ${n} completed jobs in ${queue.name}, found ${JSON.stringify(counts)}`);
  }
  return counts;
}

async function phase(name, opts, connection, concurrency) {
  const queue = new Queue(name, {
    connection,
    prefix: opts.prefix,
    // BullMQ's defaults, spelled out: completed and failed jobs are retained.
    defaultJobOptions: { removeOnComplete: false, removeOnFail: false },
  });
  queues.push(queue);
  queue.on('error', (err) => log('queue error:', err.message));
  await queue.waitUntilReady();

  const enqueueSecs = await enqueue(queue, opts.jobs);
  log(`${name}: enqueued ${opts.jobs} jobs in ${enqueueSecs.toFixed(3)} s`);
  const processSecs = await processAll(name, opts.jobs, concurrency, connection, opts.prefix);
  log(`${name}: processed ${opts.jobs} jobs at concurrency ${concurrency} in ${processSecs.toFixed(3)} s`);
  await checkCounts(queue, opts.jobs);
  return { queue, enqueueSecs, processSecs };
}

// Wall clock in ms with sub-ms resolution, comparable across processes.
const wallMs = () => performance.timeOrigin + performance.now();
const READY = 'LATENCY-WORKER-READY';
const RESULT = 'LATENCY-WORKER-RESULT ';

async function latencyWorker(opts, connection) {
  const starts = {};
  let count = 0;
  const worker = new Worker(opts.queue, async (job) => {
    starts[job.data.i] = wallMs();
    count += 1;
    if (count === opts.jobs) {
      process.stdout.write(RESULT + JSON.stringify(starts) + '\n');
    }
  }, { connection, prefix: opts.prefix, concurrency: opts.concurrency });
  workers.push(worker);
  worker.on('error', (err) => log('worker error:', err.message));
  await worker.waitUntilReady();
  process.stdout.write(READY + '\n');
}

async function latencyRun(opts, connection) {
  const jobs = Math.round(opts.rate * opts.seconds);
  const child = spawn(process.execPath, [
    new URL(import.meta.url).pathname, '--latency-worker', '--queue', opts.queue, '--jobs', String(jobs),
    '--concurrency', String(opts.concurrency), '--redis', opts.redis, '--prefix', opts.prefix,
    '--timeout', String(opts.timeout),
  ], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const deferred = () => {
    const d = {};
    d.promise = new Promise((resolve, reject) => { d.resolve = resolve; d.reject = reject; });
    return d;
  };
  const ready = deferred();
  const result = deferred();
  lines.on('line', (line) => {
    if (line === READY) ready.resolve();
    else if (line.startsWith(RESULT)) result.resolve(JSON.parse(line.slice(RESULT.length)));
  });
  // Rejecting an already-settled promise is a no-op; these are awaited below, so none goes unhandled.
  ready.promise.catch(() => {});
  result.promise.catch(() => {});
  child.on('exit', (code) => {
    const error = new Error(`latency worker exited (${code})`);
    ready.reject(error);
    result.reject(error);
  });
  try {
    await ready.promise;
    const queue = new Queue(opts.queue, { connection, prefix: opts.prefix });
    queues.push(queue);
    await queue.waitUntilReady();
    const sent = new Array(jobs);
    const interval = 1000 / opts.rate;
    const t0 = performance.now();
    for (let i = 0; i < jobs; i++) {
      const delay = t0 + i * interval - performance.now();
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      sent[i] = wallMs();
      await queue.add('noop', { i });
    }
    const offered = jobs / ((performance.now() - t0) / 1000);
    const starts = await result.promise;
    const latencies = sent.map((at, i) => {
      if (starts[i] === undefined) throw new Error(`job ${i} never started`);
      return starts[i] - at;
    }).sort((a, b) => a - b);
    const r3 = (x) => Math.round(x * 1000) / 1000;
    return {
      peer: 'bullmq',
      bullmq_version: BULLMQ_VERSION,
      jobs,
      concurrency: opts.concurrency,
      offered_jobs_per_second: round(offered),
      p50_ms: r3(latencies[Math.floor(jobs / 2)]),
      p99_ms: r3(latencies[Math.max(Math.floor(jobs * 0.99) - 1, 0)]),
      max_ms: r3(latencies[jobs - 1]),
    };
  } finally {
    child.kill();
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const connection = connectionFromUrl(opts.redis);

  // Hard bound: whatever happens, the process is gone after --timeout seconds.
  const hard = setTimeout(() => {
    log(`hard timeout after ${opts.timeout} s, exiting; keys may remain under ${opts.prefix}:`);
    process.exit(3);
  }, opts.timeout * 1000);
  // Soft bound: stop waiting early enough to obliterate the keys.
  const softMs = Math.max(opts.timeout * 1000 - 15000, opts.timeout * 800);
  const soft = setTimeout(() => {
    softExpired = new Error(`timed out after ${softMs / 1000} s (bound ${opts.timeout} s)`);
    if (abortRun) abortRun(softExpired);
  }, softMs);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`${sig}: cleaning up`);
      cleanup().finally(() => process.exit(130));
    });
  }

  log(`bullmq ${BULLMQ_VERSION}, prefix ${opts.prefix}, redis ${connection.host}:${connection.port}/${connection.db}`);
  if (opts.latencyWorker) {
    // Runs until its parent kills it; the parent obliterates the queue.
    await latencyWorker(opts, connection);
    clearTimeout(soft);
    return;
  }
  let result;
  let failure = null;
  try {
    if (opts.latency) {
      result = await latencyRun(opts, connection);
      throw null; // eslint-disable-line no-throw-literal -- skip the throughput phases, keep the cleanup
    }
    const cpu0 = process.cpuUsage();
    const main = await phase('main', opts, connection, opts.concurrency);
    const cpu = process.cpuUsage(cpu0);
    const redisVersion = (await (await main.queue.client).info('server'))
      .match(/redis_version:(\S+)/)?.[1];
    result = {
      peer: 'bullmq',
      bullmq_version: BULLMQ_VERSION,
      jobs: opts.jobs,
      concurrency: opts.concurrency,
      enqueue_jobs_per_second: round(opts.jobs / main.enqueueSecs),
      process_jobs_per_second: round(opts.jobs / main.processSecs),
      enqueue_seconds: Number(main.enqueueSecs.toFixed(4)),
      process_seconds: Number(main.processSecs.toFixed(4)),
      // CPU of this process while it enqueued and processed (µs from process.cpuUsage).
      cpu_seconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(3)),
    };
    if (opts.alsoC1) {
      const c1 = await phase('c1', opts, connection, 1);
      result.process_jobs_per_second_c1 = round(opts.jobs / c1.processSecs);
      result.process_seconds_c1 = Number(c1.processSecs.toFixed(4));
    }
    result.node_version = process.versions.node;
    result.redis_version = redisVersion;
    result.prefix = opts.prefix;
  } catch (err) {
    if (err !== null) failure = err;
  }
  clearTimeout(soft);
  await cleanup();
  clearTimeout(hard);

  if (failure) {
    log('failed:', failure.stack || failure.message);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  log('fatal:', err.stack || err.message);
  process.exitCode = 1;
  cleanup().catch(() => {});
});
