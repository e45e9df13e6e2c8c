'use strict'
/**
 * Preloaded (`node -r`) into every process that runs a vendored node-postgres
 * test file. It changes which module a vendored file gets, nothing else:
 *
 *   the file asks for                      UPSTREAM_TARGET=ours        UPSTREAM_TARGET=pg (baseline)
 *   require('pg') / '../../lib' (pg's index) pg-failover (dist)         real pg
 *   require('pg-pool') / pg-pool's '../'     pg-failover's Pool         real pg-pool
 *   '../../lib/<internal>' (connection …)    real pg's lib/<internal>   real pg's lib/<internal>
 *   '../suite' (pg's runner)                 ./suite.cjs (records each test, keeps going after a failure)
 *
 * Only requests made by files under the vendored tree are redirected: pg-failover's
 * own `require('pg')` still gets the real pg it is built on.
 */
const Module = require('module')
const path = require('path')

const VENDOR = path.resolve(__dirname, '../../vendor/node-postgres')
const ROOT = path.resolve(__dirname, '../../..')
const target = process.env.UPSTREAM_TARGET === 'pg' ? 'pg' : 'ours'
const nodeModules = path.join(ROOT, 'node_modules')
const PG_LIB_REAL = path.join(nodeModules, 'pg/lib')
const entry = {
  pg: target === 'pg' ? path.join(PG_LIB_REAL, 'index.js') : path.join(ROOT, 'dist/index.js'),
  pool: target === 'pg' ? path.join(nodeModules, 'pg-pool/index.js') : path.join(__dirname, 'pg-pool.cjs'),
  suite: path.join(__dirname, 'suite.cjs'),
}
const PG_LIB_VENDOR = path.join(VENDOR, 'pg/lib')
const POOL_VENDOR = path.join(VENDOR, 'pg-pool')
const SUITE_VENDOR = path.join(VENDOR, 'pg/test/suite')

const strip = (p) => p.replace(/\.js$/, '').replace(/\/index$/, '').replace(/\/$/, '')

const original = Module._resolveFilename
Module._resolveFilename = function (request, parent, ...rest) {
  const from = parent && parent.filename
  if (from && from.startsWith(VENDOR + path.sep)) {
    if (request === 'pg') return entry.pg
    if (request === 'pg-pool') return entry.pool
    if (request.startsWith('.')) {
      const abs = strip(path.resolve(path.dirname(from), request))
      if (abs === PG_LIB_VENDOR) return entry.pg
      if (abs.startsWith(PG_LIB_VENDOR + path.sep)) {
        return original.call(this, path.join(PG_LIB_REAL, path.relative(PG_LIB_VENDOR, abs)), parent, ...rest)
      }
      if (abs === POOL_VENDOR) return entry.pool
      if (abs === SUITE_VENDOR) return entry.suite
    }
  }
  return original.call(this, request, parent, ...rest)
}
