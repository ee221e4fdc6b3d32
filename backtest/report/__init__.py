"""Reports: results folders (tables, manifest, charts) written atomically."""
