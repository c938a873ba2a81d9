// {{name}}: a tool plugin for amakaflow-chat, in JavaScript (built with componentize-js).
//
// Each function registered with plugin.function(name, description, schema, handler) is a tool the
// model can call. The schema is the JSON Schema of its arguments; the host validates the model's
// arguments against it before the handler runs. Return text or a JSON value (or a promise of one:
// `await http.get(...)` works); throw a ToolError for a failure the model should see.

import { Plugin, ToolError, config, log } from './amakaflow-tool.js';

const plugin = new Plugin().function(
  '{{function}}',
  'Greets someone by name. Replace this with what your tool does and when to use it.',
  {
    type: 'object',
    properties: { name: { type: 'string', description: 'Who to greet' } },
    required: ['name'],
  },
  (ctx, { name }) => {
    if (!name.trim()) throw ToolError.validation('Give a name to greet.');
    const greeting = config.get('greeting') ?? 'Hello';
    log.info(`greeting for ${ctx.userId}`);
    return { message: `${greeting}, ${name}!` };
  },
);

export const { describe, call } = plugin.exports();
