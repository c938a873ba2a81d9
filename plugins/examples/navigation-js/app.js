// `navigate_to_page` in JavaScript: the navigation plugin's tool (plugins/navigation/src/lib.rs)
// ported as an example of a JavaScript plugin. It returns the same text, byte for byte (the
// original service's `json.dumps` of the instruction); the tools suite runs it through the Rust
// version's tests. Production serves the Rust version.

import { Plugin, ToolError, pyJson } from './amakaflow-tool.js';

/** The pages the clients know. */
const PAGES = ['home', 'library', 'calendar', 'workout', 'settings'];

const plugin = new Plugin().function(
  'navigate_to_page',
  'Take the user to a page of the app (home, library, calendar, a workout, settings).',
  {
    type: 'object',
    properties: {
      page: { type: 'string', enum: PAGES, description: 'The page to open' },
      workout_id: { type: 'string', description: "The workout to open (needed when page is 'workout')" },
    },
    required: ['page'],
  },
  (_ctx, { page = 'home', workout_id: workoutId }) => {
    if (!PAGES.includes(page)) {
      throw ToolError.validation(`Unknown page '${page}'. Valid pages: ${PAGES.join(', ')}`);
    }
    const nav = { action: 'navigate', page };
    if (workoutId) nav.workout_id = workoutId;
    return pyJson(nav);
  },
);

export const { describe, call } = plugin.exports();
