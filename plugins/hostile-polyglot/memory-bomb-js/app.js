// Hostile, in JavaScript: `allocate_js` keeps 1 MiB blocks, touching every byte, until the host's
// memory limit stops it (`memory_exceeded`).

import { Plugin } from './amakaflow-tool.js';

const plugin = new Plugin().function('allocate_js', 'Allocates without end.', { type: 'object', properties: {} }, () => {
  const blocks = [];
  for (;;) blocks.push(new Uint8Array(1 << 20).fill(0xa5));
});

export const { describe, call } = plugin.exports();
