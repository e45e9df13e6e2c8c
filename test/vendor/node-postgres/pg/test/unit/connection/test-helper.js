'use strict'
module.exports = require('../test-helper')
