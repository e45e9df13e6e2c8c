'use strict'
// What `require('pg-pool')` is with pg-failover in place: its Pool class (pg-pool's module is the class).
module.exports = require('../../../dist/index.js').Pool
