"""PopChoice catalog seeder: seeds the catalog from the curated movies file."""
