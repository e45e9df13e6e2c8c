'use strict'
/**
 * Stands in for node-postgres's test runner (packages/pg/test/suite.js) so a
 * file's tests can be counted one by one. Same semantics as upstream — tests
 * run one at a time in the order they were added (also tests added by a
 * running test), a test is done when its callback is called or its promise
 * settles, 5 s timeout per test, an action without a body is skipped — with
 * two differences, both only about reporting: after a failure or a timeout it
 * records the test and goes on with the next one (upstream exits the process),
 * and each result is appended as a JSON line to $UPSTREAM_RESULTS. A test
 * still queued or running when the process exits is recorded as not finished.
 */
const fs = require('fs')

const out = process.env.UPSTREAM_RESULTS
const file = process.env.UPSTREAM_FILE || require('path').basename(process.argv[1] || '')
let failed = 0
const record = (name, status, ms, error) => {
  if (status === 'failed' || status === 'unfinished') failed++
  if (out) fs.appendFileSync(out, JSON.stringify({ file, name, status, ms, error }) + '\n')
}

class Test {
  constructor(name, cb) {
    this.name = name
    this.action = cb
    this.timeout = 5000
  }

  run(cb) {
    try {
      this._run(cb)
    } catch (e) {
      cb(e)
    }
  }

  _run(cb) {
    if (!this.action.length) {
      const result = this.action.call(this)
      if (!(result || 0).then) return cb()
      result.then(() => cb()).catch((err) => cb(err || new Error('Unhandled promise rejection')))
    } else {
      this.action(cb)
    }
  }
}

const queue = []
let current = null
process.on('exit', () => {
  if (current) record(current.test.name, 'unfinished', Date.now() - current.started, 'the process exited while this test ran')
  for (const t of queue) record(t.name, 'unfinished', 0, 'the process exited before this test ran')
  if (failed > 0 && !process.exitCode) process.exitCode = 1
})

function next() {
  if (current || queue.length === 0) return
  const test = queue.shift()
  process.stdout.write('  ' + test.name + ' ')
  if (!test.action) {
    process.stdout.write('? - SKIPPED\n')
    record(test.name, 'skipped', 0)
    return setImmediate(next)
  }
  const run = { test, started: Date.now(), done: false }
  current = run
  const finish = (err, status) => {
    if (run.done) return
    run.done = true
    clearTimeout(tid)
    const ms = Date.now() - run.started
    if (err) {
      process.stdout.write(`FAILED!\n\n${(err && err.stack) || err}\n`)
      record(test.name, status || 'failed', ms, String((err && err.stack) || err).slice(0, 2000))
    } else {
      process.stdout.write('✔\n')
      record(test.name, 'passed', ms)
    }
    current = null
    setImmediate(next)
  }
  const tid = setTimeout(() => finish(new Error(`test: ${test.name} did not complete withint ${test.timeout}ms`), 'failed'), test.timeout)
  test.run((err) => finish(err))
}

class Suite {
  constructor(name) {
    console.log('')
  }

  test(name, cb) {
    queue.push(new Test(name, cb))
    setImmediate(next)
  }
}

module.exports = Suite
