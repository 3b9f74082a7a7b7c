"""Pure: commits → grouped release notes, rendered with jinja2; CHANGELOG.md insertion."""
