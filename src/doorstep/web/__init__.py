"""Page layout, templates, static assets and the helpers every page shares."""
