"""Pure naming: image references and tag templates, and the `{field}` templates of release.yaml."""
