"""One module per outside system: narrow interfaces, no decisions."""
