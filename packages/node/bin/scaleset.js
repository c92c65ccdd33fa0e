#!/usr/bin/env node
// A committed entry point, so installing links the command before the package is built. It runs the
// single-file bundle (scripts/bundle.mjs): a fresh process loads a few files instead of ~700 modules.
import "../dist/bundle/cli/scaleset.js"
