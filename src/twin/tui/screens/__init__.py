"""The dashboard's views (switched in one window) and its dialogs."""
