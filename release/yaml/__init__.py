"""Users' YAML files: the strict loader (what Helm and Kubernetes would read) and the byte-preserving editor."""
