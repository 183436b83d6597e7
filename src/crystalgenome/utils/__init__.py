"""Small utilities shared by every stage (atomic files, run metadata, paths)."""
