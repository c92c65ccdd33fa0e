#!/usr/bin/env node
// A committed entry point, so installing links the command before the package is built.
import "../dist/bin/scaleset.js"
