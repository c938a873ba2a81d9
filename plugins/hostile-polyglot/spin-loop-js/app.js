// Hostile, in JavaScript: `spin_js` loops forever without calling the host, until the deadline or
// the fuel stops it.

import { Plugin } from './amakaflow-tool.js';

const plugin = new Plugin().function('spin_js', 'Loops forever.', { type: 'object', properties: {} }, () => {
  let count = 0;
  for (;;) count += 1;
});

export const { describe, call } = plugin.exports();
